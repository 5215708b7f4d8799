// A tap on the board's UART for recording what a tool nobody here wrote
// (esptool, ESP-IDF's otatool.py) exchanged with the virtual board, so CI can
// replay it (test/esptool-traces.test.ts). One JSON object per line:
//
//   {"t":12.5,"rx":"c0000804..."}   host to board (hex)
//   {"t":13.1,"tx":"c0010804..."}   board to host (hex)
//   {"t":0.2,"dtr":true,"rts":false} the modem lines, as the RFC 2217 client set them
//   {"t":0.1,"port":"open"}         an RFC 2217 client connected ("closed": it went away)
//   {"t":0,"note":"..."}            what was run, for the reader
//
// t is milliseconds since the trace began.

import fs from "node:fs";
import type { ModemLines } from "./rfc2217/auto-reset.ts";

export type TraceEvent =
  | { t: number; rx: string }
  | { t: number; tx: string }
  | ({ t: number } & ModemLines)
  | { t: number; port: "open" | "closed" }
  | { t: number; note: string };

export class UartTrace {
  readonly #fd: number;
  readonly #started = process.hrtime.bigint();

  constructor(file: string) {
    this.#fd = fs.openSync(file, "a");
  }

  rx(bytes: Uint8Array): void {
    this.#add({ rx: Buffer.from(bytes).toString("hex") });
  }

  tx(bytes: Uint8Array): void {
    this.#add({ tx: Buffer.from(bytes).toString("hex") });
  }

  lines(lines: ModemLines): void {
    this.#add({ ...lines });
  }

  port(state: "open" | "closed"): void {
    this.#add({ port: state });
  }

  note(text: string): void {
    this.#add({ note: text });
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  #add(event: object): void {
    const t = Math.round(Number(process.hrtime.bigint() - this.#started) / 1e5) / 10;
    fs.writeSync(this.#fd, JSON.stringify({ t, ...event }) + "\n");
  }
}

/** A trace file's events, in order. */
export function readTrace(file: string): TraceEvent[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as TraceEvent);
}
