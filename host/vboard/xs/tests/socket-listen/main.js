// Listens on mc/config "port": each connection is accepted, says who it is
// from, and gets its lines back in capitals. "stop" closes the listener;
// the board then ends once its connections are closed.
import { Listener, Socket } from "socket";
import config from "mc/config";

let next = 0;
const listener = new Listener({ port: config.port });
listener.callback = function (message) {
  const id = next++;
  const socket = new Socket({ listener: this });
  trace(`accepted ${id} ${message} ${socket.get("REMOTE_IP")} ${this === listener}\n`);
  socket.callback = (message, value) => {
    if (message === Socket.connected)
      trace(`connected ${id}\n`);
    else if (message === Socket.readable) {
      const text = socket.read(String);
      trace(`read ${id} ${value} ${JSON.stringify(text)}\n`);
      if (text.trim() === "stop") {
        listener.close();
        listener.close();   // a second close only traces, as on the device
        try { new Socket({ listener }); } catch (error) { trace(`after close: ${error}\n`); }
      }
      socket.write(text.toUpperCase());
    }
    else if (message === Socket.disconnected) {
      trace(`disconnected ${id}\n`);
      socket.close();
    }
  };
};
try { new Socket({ listener }); } catch (error) { trace(`none waiting: ${error}\n`); }
trace("listening\n");
