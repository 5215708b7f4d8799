// A listener and as many connections to the test's peer as lwIP has pcbs
// for; one closed makes room for one more. Then the board waits for a
// connection to its listener (the test makes one).
import { Listener, Socket } from "socket";
import config from "mc/config";

const listener = new Listener({ port: config.listenPort });
listener.callback = function () {
  trace("accepting\n");
  const socket = new Socket({ listener: this });
  socket.callback = () => {};
  trace(`accepted ${socket.get("REMOTE_IP")}\n`);
};
const sockets = [];
function connect() {
  const socket = new Socket({ address: "127.0.0.1", port: config.port });
  socket.callback = () => {};
  sockets.push(socket);
}
try {
  for (;;) connect();
} catch (error) {
  trace(`opened ${sockets.length}: ${error}\n`);
}
try { new Listener({ port: 0 }); } catch (error) { trace(`listener: ${error}\n`); }
sockets.pop().close();
connect();
trace(`reopened ${sockets.length}\n`);
if (config.free) {
  sockets.pop().close();
  trace("one free\n");
}
