// Moddable's timer quirks, kept so that firmware behaves as on the device
import Timer from "timer";
const log = (m) => trace(m + "\n");
Timer.clear(undefined);
const once = Timer.set((id) => {
  log(`fired ${id === once}`);
  Promise.resolve().then(() => {
    try { Timer.clear(once); log("clear after fire: ok"); } catch (e) { log(`clear after fire: ${e.name}`); }
  });
}, 10);
const parked = Timer.set(() => log("parked fired"), 5);
Timer.schedule(parked);            // unscheduled, still alive
Timer.set(() => Timer.schedule(parked, 30, 0), 20);
