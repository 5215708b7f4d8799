// A Node serial port in the shape of the W3C Web Serial SerialPort, which is
// all esptool-js's Transport talks to (spec/esp-idf.md §8): open/close,
// readable and writable web streams, setSignals, getInfo, and setBaudRate so
// that a baud change happens in place instead of by reopening the port (a
// reopen drops DTR, which resets boards wired for auto-reset).
//
// The streams follow Web Serial: after a reader cancels, `readable` is a new
// stream on next access, and bytes that arrive in between wait for it, as in
// the OS buffer; after close both are null, which ends esptool-js's read loop.

import { ReadableStream, WritableStream, type ReadableStreamDefaultController } from "node:stream/web";
import { SerialPort } from "serialport";
import { usbIdsOf, type UsbIds } from "./usb-ids.ts";

export interface SerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

/** The port could not be opened; the message says why in words a user can act on. */
export class PortOpenError extends Error {
  override readonly name = "PortOpenError";
}

export class WebSerialPort {
  readonly path: string;
  #port: SerialPort | undefined;
  #info: UsbIds = {};
  #readable: ReadableStream<Uint8Array> | null = null;
  #reader: ReadableStreamDefaultController<Uint8Array> | undefined;
  #waiting: Uint8Array[] = [];
  #writable: WritableStream<Uint8Array> | null = null;
  /** Linux raises DTR and RTS when a tty opens. */
  readonly #lines = { dtr: true, rts: true };
  #modemLines: boolean | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /**
   * Whether DTR and RTS reach anything: false on a pseudo-terminal (and on
   * adapters without them), undefined until the first setSignals.
   */
  get hasModemLines(): boolean | undefined {
    return this.#modemLines;
  }

  async open(options: { baudRate: number }): Promise<void> {
    if (this.#port?.isOpen) throw new PortOpenError(`serial port ${this.path} is already open`);
    const port = new SerialPort({ path: this.path, baudRate: options.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new PortOpenError(describeOpenError(this.path, err))) : resolve())));
    port.on("data", (chunk: Buffer) => this.#received(new Uint8Array(chunk)));
    port.on("close", () => this.#detach());
    port.on("error", () => {});
    this.#port = port;
    this.#info = usbIdsOf(this.path);
  }

  get readable(): ReadableStream<Uint8Array> | null {
    if (!this.#port?.isOpen) return null;
    this.#readable ??= new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#reader = controller;
        for (const chunk of this.#waiting.splice(0)) controller.enqueue(chunk);
      },
      cancel: () => {
        this.#reader = undefined;
        this.#readable = null;
      },
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> | null {
    const port = this.#port;
    if (!port?.isOpen) return null;
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => new Promise<void>((resolve, reject) => port.write(Buffer.from(chunk), (err) => (err ? reject(err) : resolve()))),
      close: () => void (this.#writable = null),
    });
    return this.#writable;
  }

  /**
   * serialport's set() resets every line it is not given, so both go in every
   * call, in one ioctl: flipping them one call at a time can break the EN/IO0
   * timing of the auto-reset circuit (esptool-js PR #122).
   */
  async setSignals(signals: SerialSignals): Promise<void> {
    const port = this.#openPort();
    if (signals.dataTerminalReady !== undefined) this.#lines.dtr = signals.dataTerminalReady;
    if (signals.requestToSend !== undefined) this.#lines.rts = signals.requestToSend;
    await new Promise<void>((resolve, reject) =>
      port.set({ dtr: this.#lines.dtr, rts: this.#lines.rts, brk: signals.break ?? false }, (err) => {
        if (!err) {
          this.#modemLines = true;
          resolve();
        } else if (/Inappropriate ioctl|ENOTTY|EINVAL/.test(err.message)) {
          // A pseudo-terminal has no modem lines: like an adapter with DTR and RTS unwired.
          this.#modemLines = false;
          resolve();
        } else {
          reject(err);
        }
      }),
    );
  }

  getInfo(): UsbIds {
    return this.#info;
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const port = this.#openPort();
    await new Promise<void>((resolve, reject) => port.update({ baudRate }, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    const port = this.#port;
    this.#port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.#detach();
  }

  #openPort(): SerialPort {
    if (!this.#port?.isOpen) throw new PortOpenError(`serial port ${this.path} is not open`);
    return this.#port;
  }

  #received(chunk: Uint8Array): void {
    if (this.#reader) this.#reader.enqueue(chunk);
    else this.#waiting.push(chunk);
  }

  #detach(): void {
    try {
      this.#reader?.close();
    } catch {
      // already closed or errored
    }
    this.#reader = undefined;
    this.#readable = null;
    this.#writable = null;
    this.#waiting = [];
  }
}

function describeOpenError(path: string, err: Error): string {
  const m = err.message;
  const why = /ENOENT|No such file/.test(m)
    ? "no such device (is the board plugged in? list ports with ls /dev/ttyUSB* /dev/ttyACM*)"
    : /EACCES|Permission denied/.test(m)
      ? "permission denied (on Linux join the dialout group: sudo usermod -aG dialout $USER, then log in again)"
      : /lock|EBUSY|busy|temporarily unavailable/i.test(m)
        ? "it is in use by another program (a serial monitor?)"
        : m.replace(/^Error:\s*/, "");
  return `cannot open serial port ${path}: ${why}`;
}
