// Socket messages and timers take turns, and each socket callback is a task:
// its promise jobs run before anything else. Nothing refers to the socket
// but the host, and each tick collects garbage: it must live on.
import { Socket } from "socket";
import Timer from "timer";
import config from "mc/config";

let ticks = 0, reads = 0;
const timer = Timer.repeat(() => {
  native("xs_vb_gc")();
  trace(`tick ${++ticks}\n`);
  Promise.resolve().then(() => trace(`tick job ${ticks}\n`));
}, 40);
new Socket({ address: "127.0.0.1", port: config.port }).callback = function (message) {
  if (message !== Socket.readable)
    return;
  const text = this.read(String);
  trace(`read ${++reads} ${text}\n`);
  Promise.resolve().then(() => trace(`read job ${reads}\n`));
  if (reads === 3) {
    Timer.clear(timer);
    this.close();
  }
};
