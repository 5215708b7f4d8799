// Callbacks that native code calls (sockets, timers, the UART, Wi-Fi) must
// not throw: on the ESP32 an exception escaping one aborts XS and reboots the
// board, which during a trial boot would even roll the update back. Every
// such callback of the adapters goes through `guard`, which logs instead.

import { log } from "sys/log";

export function guard<A extends unknown[]>(tag: string, callback: (...args: A) => void, onError?: () => void): (...args: A) => void {
  return (...args: A) => {
    try {
      callback(...args);
    } catch (e) {
      log.error(tag, errorText(e));
      try {
        onError?.();
      } catch {
        // Cleaning up after a failure must not become the failure that reboots.
      }
    }
  };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
