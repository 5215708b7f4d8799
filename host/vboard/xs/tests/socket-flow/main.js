// Writes as much as the room allows on each "writable" to a peer that reads
// slowly: more than the room is refused; "writable" comes only once the
// peer's TCP has acknowledged everything written.
import { Socket } from "socket";
import config from "mc/config";

let total = 0;
function fill(socket) {
  const room = socket.write();
  socket.write(new ArrayBuffer(room));
  total += room;
  trace(`wrote ${room} total ${total} room ${socket.write()}\n`);
}
const socket = new Socket({ address: "127.0.0.1", port: config.port });
socket.callback = function (message, value) {
  if (message === Socket.connected) {
    const room = this.write();
    try { this.write(new ArrayBuffer(room + 1)); } catch (error) { trace(`too much: ${error}\n`); }
    try { this.write(new ArrayBuffer(room - 1), "ab"); } catch (error) { trace(`too much in two: ${error}\n`); }
    try { this.write(true); } catch (error) { trace(`boolean: ${error}\n`); }
    fill(this);
  }
  else if (message === Socket.writable) {
    trace(`writable ${value}\n`);
    if (total >= config.limit) {
      trace("done\n");
      this.close();
    }
    else
      fill(this);
  }
  else
    trace(`unexpected ${message}\n`);
};
