// "board/uart" on the ESP32: the RPC channel's UART over Moddable's
// ECMA-419 `embedded:io/serial`, with port, pins and baud from the build's
// config (sys/board-config; boards/<board>/manifest.json sets the pins).
// UART0 is free for it in release builds only: Moddable's release sdkconfig
// turns the ESP-IDF console off, while a debug build's xsbug owns UART0 and
// opening it throws "port in use" (then set rpcUartPort=1 and its pins).
//
// Writes are buffered here: the ESP32 driver writes straight into the TX FIFO
// (128 bytes) and throws "output full" past it, so a reply goes out piece by
// piece as `onWritable` reports room. The queue is capped: a peer that
// floods requests faster than the line carries the replies loses replies,
// not the board's heap.

import Serial from "embedded:io/serial";
import type { RpcUartPort } from "platform/ports";
import type { SerialLike } from "rpc/uart-channel";
import { uartSettings, type UartSettings } from "sys/board-config";
import { guard } from "sys/guard";
import { log } from "sys/log";

/** Replies waiting for the TX FIFO: two of the largest frames. */
const MAX_QUEUED_BYTES = 8192;

let settings: UartSettings | undefined;
const current = () => (settings ??= uartSettings());

export const rpcUart: RpcUartPort = {
  get uartNo() {
    return current().port;
  },
  open(onReadable) {
    const { port } = current();
    if (port < 0) throw new Error("the RPC UART is off (rpcUartPort=-1)");
    return new BufferedSerial(current(), onReadable);
  },
};

class BufferedSerial implements SerialLike {
  readonly #serial: Serial;
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** Writes dropped since the queue was last empty. */
  #dropped = 0;
  /** Bytes the TX FIFO takes now, as the last onWritable said, less what was written since. */
  #room = 0;

  constructor(uart: UartSettings, onReadable: () => void) {
    this.#serial = new Serial({
      port: uart.port,
      transmit: uart.transmit,
      receive: uart.receive,
      baud: uart.baud,
      format: "buffer",
      onReadable: guard("uart", () => onReadable()),
      onWritable: guard("uart", (count: number) => {
        this.#room = count;
        this.#drain();
      }),
    });
  }

  read(): ArrayBuffer | undefined {
    const bytes = this.#serial.read();
    return bytes instanceof ArrayBuffer ? bytes : undefined;
  }

  write(data: ArrayBuffer): void {
    if (data.byteLength === 0) return;
    if (this.#queued + data.byteLength > MAX_QUEUED_BYTES) {
      // One line per flood: a log line each would be a flood of its own.
      if (this.#dropped++ === 0) log.warn("uart", "output full: replies dropped until it drains");
      return;
    }
    this.#queue.push(new Uint8Array(data));
    this.#queued += data.byteLength;
    this.#drain();
  }

  #drain(): void {
    while (this.#room > 0 && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(this.#room, head.length);
      this.#serial.write(n === head.length ? head : head.subarray(0, n));
      this.#room -= n;
      this.#queued -= n;
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
    if (this.#queue.length === 0 && this.#dropped > 0) {
      log.warn("uart", `output drained; ${this.#dropped} replies were dropped`);
      this.#dropped = 0;
    }
  }
}
