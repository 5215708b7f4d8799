// The method registry and the request path every channel shares: frame in,
// prehandlers (reboot lockout, auth), handler, reply out. A handler may
// answer at once or later (it returns a promise); either way the reply goes
// back through the `send` function of the channel the request came in on.

import { encodeResponse, parseIncomingFrame, type Frame, type RpcErrorBody } from "rpc/frame";
import { holdNames } from "sys/names";

/** An error reply with an mgrpc code; anything else thrown becomes a 500. */
export class RpcError extends Error {
  readonly code: number;
  readonly rpcMessage: string | undefined;
  constructor(code: number, message?: string) {
    super(message ?? `error ${code}`);
    this.code = code;
    this.rpcMessage = message;
  }
}

export interface ChannelInfo {
  /** mgrpc channel type: "UART", "HTTP", "WS_in", "MQTT". */
  readonly type: string;
  /** Peer description for RPC.Ping: "UART0", "127.0.0.1:5533". */
  readonly info: string;
  /**
   * Headers (lower-case names) of the HTTP request that carried the call
   * (HTTP) or opened the channel (WS_in upgrade): channel-level credentials.
   */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** That request's method and target ("POST", "/rpc?x=1"), which an HTTP digest covers. */
  readonly request?: { readonly method: string; readonly uri: string };
}

export interface CallContext {
  readonly frame: Frame;
  readonly channel: ChannelInfo;
}

export type Handler = (args: unknown, ctx: CallContext) => unknown;

/** Runs before the handler; returning an error body refuses the call. */
export type Prehandler = (ctx: CallContext) => RpcErrorBody | undefined;

export interface MethodDescription {
  readonly name: string;
  /** Frozen json_scanf-style argument format, as mgrpc's RPC.Describe reports it. */
  readonly args_fmt: string;
}

interface Method extends MethodDescription {
  readonly handler: Handler;
}

/** Where a reply goes; receives the complete reply frame text. */
export type SendReply = (frameText: string) => void;

/**
 * What became of a frame: a reply is coming through `send` (maybe later), the
 * frame was a notification that gets none, or it was dropped (see onDrop).
 * Request/response channels such as HTTP need this to answer something.
 */
export type Disposition = "reply" | "no-reply" | "dropped";

export class Dispatcher {
  readonly #methods = new Map<string, Method>();
  readonly #prehandlers: Prehandler[] = [];
  readonly #deviceId: () => string;
  /** Called with a reason for every frame that is dropped without reply. */
  onDrop: (reason: string, channel: ChannelInfo) => void = () => {};

  constructor(deviceId: () => string) {
    this.#deviceId = deviceId;
  }

  get deviceId(): string {
    return this.#deviceId();
  }

  add(name: string, argsFmt: string, handler: Handler): void {
    this.#methods.set(name, { name, args_fmt: argsFmt, handler });
    // The arguments it takes are names a frame may carry (sys/names).
    holdNames(argumentNames(argsFmt));
  }

  addPrehandler(prehandler: Prehandler): void {
    this.#prehandlers.push(prehandler);
  }

  list(): string[] {
    return Array.from(this.#methods.keys());
  }

  describe(name: string): MethodDescription | undefined {
    const m = this.#methods.get(name);
    return m && { name: m.name, args_fmt: m.args_fmt };
  }

  /** Handle the text of one received frame. */
  handleText(text: string, channel: ChannelInfo, send: SendReply): Disposition {
    const parsed = parseIncomingFrame(text);
    if (!parsed.ok) return this.#drop(parsed.reason, channel);
    return this.handleFrame(parsed.frame, channel, send);
  }

  /** Handle one parsed frame (channels that build frames themselves, such as HTTP REST). */
  handleFrame(frame: Frame, channel: ChannelInfo, send: SendReply): Disposition {
    const deviceId = this.#deviceId();
    if (frame.dst !== "" && frame.dst !== deviceId) return this.#drop(`wrong dst "${frame.dst}"`, channel);
    // The device sends no requests of its own, so a response has nobody to go to.
    if (frame.method === "") return this.#drop("unexpected response frame", channel);
    const disposition: Disposition = frame.id === undefined ? "no-reply" : "reply";
    const reply = (outcome: { result: unknown } | { error: RpcErrorBody }) => {
      if (frame.id !== undefined) send(encodeResponse(frame, deviceId, outcome));
    };
    const ctx: CallContext = { frame, channel };
    const method = this.#methods.get(frame.method);
    if (!method) {
      reply({ error: { code: 404, message: `No handler for ${frame.method}` } });
      return disposition;
    }
    for (const pre of this.#prehandlers) {
      const refusal = pre(ctx);
      if (refusal) {
        reply({ error: refusal });
        return disposition;
      }
    }
    let value: unknown;
    try {
      value = method.handler(frame.args, ctx);
    } catch (e) {
      reply({ error: errorBody(e) });
      return disposition;
    }
    if (isPromiseLike(value)) {
      value.then(
        (result) => reply({ result }),
        (e: unknown) => reply({ error: errorBody(e) }),
      );
    } else {
      reply({ result: value });
    }
    return disposition;
  }

  #drop(reason: string, channel: ChannelInfo): Disposition {
    this.onDrop(reason, channel);
    return "dropped";
  }
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

function errorBody(e: unknown): RpcErrorBody {
  if (e instanceof RpcError) {
    return e.rpcMessage === undefined ? { code: e.code } : { code: e.code, message: e.rpcMessage };
  }
  return { code: 500, message: e instanceof Error ? e.message : String(e) };
}

/** "{url: %T, commit_timeout: %d}" -> ["url", "commit_timeout"] */
export function argumentNames(argsFmt: string): string[] {
  const names: string[] = [];
  const member = /([A-Za-z_][A-Za-z0-9_]*)\s*:/g;
  let m: RegExpExecArray | null;
  while ((m = member.exec(argsFmt)) !== null) names.push(m[1]!);
  return names;
}
