// mgrpc over a serial port exactly as mos speaks it: the `"""` EOF `"""`
// handshake before every frame (so a device that just rebooted, or whose
// console printed in between, is caught up first), then the frame wrapped in
// `"""` with its CRC. Frames go out one at a time, in order. A frame sent
// while the device still owes a reply to an earlier one, and has just sent
// one, skips the handshake: the device is mid-conversation, and a handshake
// would wait for it to finish the frames before it (pipelined OTA.Write).

import { SerialPort } from "serialport";
import { TransportError, type FrameTransport } from "./transport.ts";
import { HANDSHAKE_PROBE, UartReader, encodeMosFrame } from "./uart-reader.ts";

export interface SerialOptions {
  path: string;
  baudRate?: number;
  /** Give up the handshake after this long (mos warns after about 5 s). */
  handshakeTimeoutMs?: number;
}

const PROBE_INTERVAL_MS = 200;
/** A device that sent a frame this recently, and owes more, needs no handshake. */
const IN_CONVERSATION_MS = 1000;

export class SerialTransport implements FrameTransport {
  readonly description: string;
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly #port: SerialPort;
  readonly #reader = new UartReader();
  readonly #handshakeTimeoutMs: number;
  /** Resolves the pending handshake when the device answers it. */
  #handshakeSeen: (() => void) | undefined;
  #emptyFrames = 0;
  #closedError: Error | undefined;
  /** Frames sent since the last handshake that no frame from the device has answered yet. */
  #owed = 0;
  #lastFrameAt = -Infinity;
  /** The frame being sent (handshake and bytes): the next waits for it. */
  #sending: Promise<void> = Promise.resolve();

  private constructor(port: SerialPort, options: SerialOptions) {
    this.#port = port;
    this.description = options.path;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    port.on("data", (chunk: Buffer) => this.#receive(chunk));
    port.on("close", () => (this.#closedError ??= new TransportError(`serial port ${options.path} was closed`)));
  }

  static async open(options: SerialOptions): Promise<SerialTransport> {
    const port = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new TransportError(`cannot open serial port ${options.path}: ${describeOpenError(err)}`)) : resolve())),
    );
    return new SerialTransport(port, options);
  }

  #receive(chunk: Buffer): void {
    for (const out of this.#reader.push(chunk)) {
      switch (out.kind) {
        case "frame":
          this.#owed = Math.max(0, this.#owed - 1);
          this.#lastFrameAt = performance.now();
          this.onFrame(out.json);
          break;
        case "handshake":
          this.#handshakeSeen?.();
          break;
        case "empty":
          // Two empty frames answer the probe as well as the EOF echo does.
          if (++this.#emptyFrames >= 2) this.#handshakeSeen?.();
          break;
        case "log":
          this.onLog(out.line);
          break;
        case "corrupt":
          this.onLog(`[corrupted frame dropped: ${out.text}]`);
          break;
      }
    }
  }

  async #handshake(): Promise<void> {
    this.#emptyFrames = 0;
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#handshakeSeen = resolve;
        const probe = () => this.#write(HANDSHAKE_PROBE).catch(reject);
        probe();
        timer = setInterval(probe, PROBE_INTERVAL_MS);
        deadline = setTimeout(
          () =>
            reject(
              new TransportError(
                `no response to handshake on ${this.description} within ${this.#handshakeTimeoutMs / 1000} s. ` +
                  "Is it the right port? Is RPC over UART enabled on the device?",
              ),
            ),
          this.#handshakeTimeoutMs,
        );
      });
    } finally {
      clearInterval(timer);
      clearTimeout(deadline);
      this.#handshakeSeen = undefined;
    }
  }

  #write(bytes: Buffer): Promise<void> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) =>
      this.#port.write(bytes, (err) => (err ? reject(new TransportError(`write to ${this.description} failed: ${err.message}`)) : resolve())),
    );
  }

  send(json: string): Promise<void> {
    const sent = this.#sending.then(() => this.#sendNow(json));
    this.#sending = sent.catch(() => {});
    return sent;
  }

  async #sendNow(json: string): Promise<void> {
    const inConversation = this.#owed > 0 && performance.now() - this.#lastFrameAt < IN_CONVERSATION_MS;
    if (!inConversation) {
      await this.#handshake();
      this.#owed = 0;
    }
    this.#owed++;
    await this.#write(encodeMosFrame(json));
  }

  /** Drive the modem control lines (a dev board's auto-reset circuit hangs on DTR and RTS). */
  setSignals(signals: { dtr?: boolean; rts?: boolean }): Promise<void> {
    return new Promise((resolve, reject) => this.#port.set(signals, (err) => (err ? reject(new TransportError(`${this.description}: ${err.message}`)) : resolve())));
  }

  async close(): Promise<void> {
    if (!this.#port.isOpen) return;
    await new Promise<void>((resolve) => this.#port.close(() => resolve()));
  }
}

function describeOpenError(err: Error): string {
  const m = /ENOENT|No such file/.exec(err.message);
  return m ? "no such device" : err.message.replace(/^Error:\s*/, "");
}
