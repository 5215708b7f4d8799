// Moddable's "timer" module (typings/timer.d.ts), as the firmware uses it.
declare module "timer" {
  type TimerID = object;
  type TimerCallback = (id: TimerID) => void;
  const Timer: {
    set(callback: TimerCallback, delayMs?: number, repeatMs?: number): TimerID;
    repeat(callback: TimerCallback, intervalMs: number): TimerID;
    schedule(id: TimerID, delayMs?: number, repeatMs?: number): void;
    clear(id: TimerID): void;
    delay(ms: number): void;
  };
  export default Timer;
}
