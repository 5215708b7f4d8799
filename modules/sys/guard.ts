// Callbacks that native code calls (sockets, timers, the UART, Wi-Fi) must
// not throw: on the ESP32 an exception escaping one aborts XS and reboots the
// board, which during a trial boot would even roll the update back. Every
// such callback of the adapters goes through `guard`, which logs instead.

import { log } from "sys/log";

/**
 * Native callbacks take two arguments at most (a socket's message and
 * value): the wrapper passes two on, as a rest parameter would cost an array
 * on every call, and a socket's callback runs once per received segment.
 */
export function guard<A extends [unknown?, unknown?]>(tag: string, callback: (...args: A) => void, onError?: () => void): (...args: A) => void {
  const call = callback as (a?: unknown, b?: unknown) => void;
  return ((a?: unknown, b?: unknown) => {
    try {
      call(a, b);
    } catch (e) {
      log.error(tag, errorText(e));
      try {
        onError?.();
      } catch {
        // Cleaning up after a failure must not become the failure that reboots.
      }
    }
  }) as (...args: A) => void;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
