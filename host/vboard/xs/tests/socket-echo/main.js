// Connects to the test's line-echo peer (mc/config "port"), writes a line in
// several pieces and types, and reads the echo back with every kind of
// read(); logs the callback messages with their values.
import { Socket } from "socket";
import config from "mc/config";

const socket = new Socket({ address: "127.0.0.1", port: config.port });
socket.callback = function (message, value) {
  if (message === Socket.connected) {
    trace(`connected ${value} ${this.get("REMOTE_IP")}\n`);
    trace(`room ${this.write()}\n`);
    this.write("hello ", 0x77, new Uint8Array([111, 114]).buffer, new Uint8Array([108, 100, 10]));
    trace(`room after ${this.write()}\n`);
  }
  else if (message === Socket.writable)
    trace(`writable ${value}\n`);
  else if (message === Socket.readable) {
    trace(`readable ${value} ${this.read()}\n`);
    trace(`number ${this.read(Number)}\n`);
    trace(`skipped ${this.read(null, 2)}\n`);
    trace(`line ${JSON.stringify(this.read(String, "\n"))}\n`);
    trace(`three ${this.read(String, 3)}\n`);
    trace(`rest ${this.read(ArrayBuffer).byteLength}\n`);
    trace(`left ${this.read()}\n`);
    try { this.read(String); } catch (error) { trace(`empty ${error}\n`); }
    trace(`remote ${this.get("REMOTE_IP")} ${this.get("REMOTE_PORT")}\n`);
    this.close();
    this.close();
    for (const call of [() => this.read(), () => this.write("x"), () => this.get("REMOTE_IP")])
      try { call(); } catch (error) { trace(`closed ${error}\n`); }
  }
  else
    trace(`unexpected ${message}\n`);
};
