// For the fault shaper: the board listens on config.listenPort and, when the
// test sends {"t":"connect"} on the link, connects to config.port. Every
// connection echoes what it reads and logs its messages.
import { Listener, Socket } from "socket";
import config from "mc/config";

let next = 0;
function serve(socket, name) {
  socket.callback = (message, value) => {
    if (message === Socket.readable) {
      const bytes = socket.read(ArrayBuffer);
      trace(`${name} read ${bytes.byteLength}\n`);
      socket.write(bytes);
    }
    else if (message === Socket.writable)
      ;
    else {
      trace(`${name} message ${message}\n`);
      if (message < 0)
        socket.close();
    }
  };
}
const listener = new Listener({ port: config.listenPort });
listener.callback = function () {
  serve(new Socket({ listener: this }), `in${next++}`);
};
native("xs_vb_link_on_message")((json) => {
  if (JSON.parse(json).t === "connect")
    serve(new Socket({ host: "127.0.0.1", port: config.port }), `out${next++}`);
});
trace("ready\n");
