// Calls over any FrameTransport, the way mos makes them: src "mos", a random
// id in [2^40, 2^41) (exact in a double), params omitted when there are none.
// Replies are matched by the raw id text, so they are never mixed up.
//
// A call refused with 401 and a digest challenge is sent once more with an
// `auth` object answering it, as mos does (common/mgrpc/mgrpc.go), on every
// transport. The challenge is then kept and answered (with a fresh cnonce)
// in later calls from the start, which saves a round trip per call while
// its nonce lasts; a call whose nonce went stale gets a new challenge and
// is retried the same way.

import { answerFrameChallenge, parseFrameChallenge, type FrameAuth, type FrameChallenge } from "rpc/digest-auth";
import { encodeRequest, parseFrame, type RpcErrorBody } from "rpc/frame";
import { randomCnonce, type Credentials } from "./credentials.ts";
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

/** The device refused a call for want of (valid) credentials: error 401, with advice. */
export class AuthenticationError extends RemoteError {
  /** Whether credentials were sent and refused, rather than missing. */
  readonly refused: boolean;
  constructor(realm: string, refused: boolean, remoteMessage: string) {
    super({ code: 401, message: remoteMessage });
    this.refused = refused;
    this.message = refused
      ? `remote error 401: authentication failed for realm "${realm}": wrong user name or password`
      : `remote error 401: the device requires authentication (digest, realm "${realm}"): pass --rpc-creds user:password or @file`;
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
  /** What to answer a 401 challenge with (mos --rpc-creds). */
  credentials?: Credentials;
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
  readonly #credentials: Credentials | undefined;
  #challenge: FrameChallenge | undefined;

  constructor(transport: FrameTransport, options: RpcClientOptions = {}) {
    this.transport = transport;
    this.#src = options.src ?? transport.addressing?.src ?? "mos";
    this.#dst = options.dst ?? transport.addressing?.dst;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#credentials = options.credentials;
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
  async callRaw(method: string, params?: unknown, options: CallOptions = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const known = this.#challenge;
    try {
      return await this.#exchange(method, params, known && this.#answer(known), timeoutMs);
    } catch (e) {
      const challenge = challengeOf(e);
      if (!challenge) throw e;
      if (!this.#credentials) throw new AuthenticationError(challenge.realm, false, (e as RemoteError).remoteMessage);
      this.#challenge = challenge;
      try {
        return await this.#exchange(method, params, this.#answer(challenge), timeoutMs);
      } catch (again) {
        if (!challengeOf(again)) throw again;
        this.#challenge = undefined;
        throw new AuthenticationError(challenge.realm, true, (again as RemoteError).remoteMessage);
      }
    }
  }

  #answer(challenge: FrameChallenge): FrameAuth | undefined {
    const c = this.#credentials;
    return c && answerFrameChallenge(challenge, c.username, c.password, randomCnonce());
  }

  /** One request and its reply. */
  #exchange(method: string, params: unknown, auth: FrameAuth | undefined, timeoutMs: number): Promise<string> {
    const id = ID_BASE + Math.floor(Math.random() * ID_BASE);
    const idText = String(id);
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
      const frame = encodeRequest({ src: this.#src, dst: this.#dst, id, method, params, auth });
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

/** The challenge of a 401 error reply, if that is what `e` is. */
function challengeOf(e: unknown): FrameChallenge | undefined {
  return e instanceof RemoteError && e.code === 401 ? parseFrameChallenge(e.remoteMessage) : undefined;
}
