// Calls over any FrameTransport, the way mos makes them: src "mos", a random
// id in [2^40, 2^41) (exact in a double), params omitted when there are none.
// Replies are matched by the raw id text, so they are never mixed up.

import { encodeRequest, parseFrame, type RpcErrorBody } from "rpc/frame";
import type { FrameTransport } from "./transport.ts";

/** The device answered with an error. */
export class RemoteError extends Error {
  override readonly name = "RemoteError";
  readonly code: number;
  readonly remoteMessage: string;
  constructor(error: RpcErrorBody) {
    super(`remote error ${error.code}: ${error.message ?? ""}`);
    this.code = error.code;
    this.remoteMessage = error.message ?? "";
  }
}

/** No reply within the time allowed. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface RpcClientOptions {
  src?: string;
  /** Set on every request when known (MQTT needs it). */
  dst?: string;
  timeoutMs?: number;
}

interface Pending {
  /** Receives the raw JSON text of the result. */
  resolve(result: string): void;
  reject(e: Error): void;
}

const ID_BASE = 2 ** 40;

export class RpcClient {
  readonly transport: FrameTransport;
  readonly #src: string;
  readonly #dst: string | undefined;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();

  constructor(transport: FrameTransport, options: RpcClientOptions = {}) {
    this.transport = transport;
    this.#src = options.src ?? "mos";
    this.#dst = options.dst;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    transport.onFrame = (json) => this.#receive(json);
  }

  #receive(json: string): void {
    const parsed = parseFrame(json);
    if (!parsed.ok || parsed.frame.id === undefined || parsed.frame.method !== "") return;
    const pending = this.#pending.get(parsed.frame.id);
    if (!pending) return;
    this.#pending.delete(parsed.frame.id);
    const { error, result } = parsed.frame;
    // Some devices report success as error code 0; mos treats it as success.
    if (error && error.code !== 0) pending.reject(new RemoteError(error));
    else pending.resolve(result ?? "null");
  }

  /** Call `method`; resolves with the result, rejects with RemoteError, TimeoutError or TransportError. */
  async call(method: string, params?: unknown, options: CallOptions = {}): Promise<unknown> {
    return JSON.parse(await this.callRaw(method, params, options));
  }

  /** Like call, but resolves with the result's JSON text exactly as the device sent it. */
  callRaw(method: string, params?: unknown, options: CallOptions = {}): Promise<string> {
    const id = ID_BASE + Math.floor(Math.random() * ID_BASE);
    const idText = String(id);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(idText);
        reject(new TimeoutError(`no reply to ${method} from ${this.transport.description} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const settle: Pending = {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.#pending.set(idText, settle);
      const frame = encodeRequest({ src: this.#src, dst: this.#dst, id, method, params });
      this.transport.send(frame).catch((e: Error) => {
        this.#pending.delete(idText);
        settle.reject(e);
      });
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
