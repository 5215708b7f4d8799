import Timer from "timer";
// on the UART, and on the link where the test sees it in order with the clock acks
const send = native("xs_vb_link_send");
const log = (m) => { trace(m + "\n"); send(JSON.stringify({ t: "log", m })); };
Timer.set(() => log("a 100"), 100);
Timer.set(() => log("b 50"), 50);
Timer.set(() => log("c 100"), 100);   // same due time as a: fires after a
let n = 0;
Timer.repeat((id) => { log("r " + ++n); if (n === 3) Timer.clear(id); }, 40);
const never = Timer.set(() => log("never"), 60);
Timer.clear(never);
Timer.set((id) => log("d 0 " + typeof id), 0);
Promise.resolve().then(() => log("job"));
log("main");
