// The client side of RFC 2217, as pySerial's rfc2217:// port speaks it, for
// tests that drive the virtual board's UART and its DTR/RTS lines over TCP:
// the same negotiation (WILL/DO COM-PORT-OPTION), data with 0xFF doubled,
// and SET-CONTROL requests that wait for the server's answer.

import net from "node:net";
import { DO, Option, TelnetDecoder, WILL, escapeData, negotiation, subnegotiation } from "./telnet.ts";

const SET_CONTROL = 5;
const SERVER_SET_CONTROL = 105;
const Control = { DTR_ON: 8, DTR_OFF: 9, RTS_ON: 11, RTS_OFF: 12 } as const;

export class Rfc2217Client {
  readonly #socket: net.Socket;
  readonly #decoder = new TelnetDecoder();
  readonly #received: Buffer[] = [];
  #onData: ((bytes: Buffer) => void) | undefined;
  #waitingControl: Array<{ value: number; resolve: () => void }> = [];
  #comPortAgreed: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const event of this.#decoder.push(chunk)) {
        if (event.kind === "data") {
          this.#received.push(event.bytes);
          this.#onData?.(event.bytes);
        } else if (event.kind === "negotiate" && event.option === Option.COM_PORT && event.verb === DO) {
          this.#comPortAgreed?.();
        } else if (event.kind === "subnegotiation" && event.payload[0] === SERVER_SET_CONTROL) {
          const waiter = this.#waitingControl.find((w) => w.value === event.payload[1]);
          if (waiter) {
            this.#waitingControl.splice(this.#waitingControl.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      }
    });
  }

  /** Connect and agree on COM-PORT-OPTION, as pySerial does before anything else. */
  static async open(port: number): Promise<Rfc2217Client> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new Rfc2217Client(socket);
    const agreed = new Promise<void>((resolve) => (client.#comPortAgreed = resolve));
    socket.write(negotiation(WILL, Option.COM_PORT));
    await withTimeout(agreed, 2000, "the server did not agree to COM-PORT-OPTION");
    return client;
  }

  /** Every byte the board sent so far. */
  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  onData(listener: (bytes: Buffer) => void): void {
    this.#onData = listener;
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(escapeData(bytes));
  }

  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
    if (lines.dtr !== undefined) await this.#control(lines.dtr ? Control.DTR_ON : Control.DTR_OFF);
    if (lines.rts !== undefined) await this.#control(lines.rts ? Control.RTS_ON : Control.RTS_OFF);
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.once("close", resolve));
    this.#socket.end();
    await closed;
  }

  #control(value: number): Promise<void> {
    const answered = new Promise<void>((resolve) => this.#waitingControl.push({ value, resolve }));
    this.#socket.write(subnegotiation(Option.COM_PORT, Buffer.from([SET_CONTROL, value])));
    return withTimeout(answered, 2000, `SET-CONTROL ${value} was not answered`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
