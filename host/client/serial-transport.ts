// mgrpc over a serial port exactly as mos speaks it: the `"""` EOF `"""`
// handshake before every frame (so a device that just rebooted, or whose
// console printed in between, is caught up first), then the frame wrapped in
// `"""` with its CRC.

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

  async send(json: string): Promise<void> {
    await this.#handshake();
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
