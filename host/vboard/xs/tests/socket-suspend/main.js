// suspend(true) holds the messages (and refuses writes); suspend(false)
// delivers what was held, in one message: connected, then readable.
import { Socket } from "socket";
import Timer from "timer";
import config from "mc/config";

const socket = new Socket({ address: "127.0.0.1", port: config.port });
trace(`suspend ${socket.suspend(true)} ${socket.suspend()}\n`);
try { socket.write("x"); } catch (error) { trace(`write: ${error}\n`); }
socket.callback = function (message, value) {
  trace(`message ${message} ${value}\n`);
  if (message === Socket.readable) {
    trace(`read ${this.read(String)}\n`);
    this.close();
  }
};
Timer.set(() => trace(`resume ${socket.suspend(false)}\n`), 300);
