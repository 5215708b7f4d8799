// The peer sends config.bytes bytes and closes. The first readable callback
// reads only 10 bytes: the rest of its segment is kept, and nothing more
// comes until a timer has read it. Later segments are read whole; the
// disconnect comes after the last byte is read.
import { Socket } from "socket";
import Timer from "timer";
import config from "mc/config";

let total = 0, first = true;
const socket = new Socket({ address: "127.0.0.1", port: config.port });
socket.callback = function (message, value) {
  if (message === Socket.readable) {
    if (first) {
      first = false;
      total += this.read(ArrayBuffer, 10).byteLength;
      trace(`first ${value} left ${this.read()}\n`);
      Timer.set(() => {
        const rest = this.read(ArrayBuffer).byteLength;
        total += rest;
        trace(`timer read ${rest}\n`);
      }, 200);
      return;
    }
    const bytes = this.read(ArrayBuffer);
    total += bytes.byteLength;
    trace(`readable ${value} ${bytes.byteLength}\n`);
  }
  else if (message === Socket.disconnected) {
    trace(`disconnected ${total} ${this.get("REMOTE_IP")}\n`);
    this.close();
  }
  else if (message !== Socket.connected)
    trace(`unexpected ${message}\n`);
};
