// mgrpc frames (spec/mos-rpc.md §2.1): parse what arrives, emit replies and
// requests. Ids and tags are carried as raw JSON text so that any number
// comes back with the same digits and a string id stays a string.

import { rawMembers } from "rpc/json-members";
import { readJson } from "sys/json-limits";

export interface RpcErrorBody {
  code: number;
  message?: string;
}

export interface Frame {
  /** Raw JSON text of `id` (digits or a quoted string); absent in a notification. */
  readonly id?: string;
  readonly src: string;
  readonly dst: string;
  /** Raw JSON text of `tag`, echoed verbatim. */
  readonly tag?: string;
  /** Non-empty for a request; empty for a response. */
  readonly method: string;
  /** `params`, or its deprecated synonym `args`; undefined when absent. */
  readonly args?: unknown;
  readonly auth?: unknown;
  /** Raw JSON text of `result` in a response. */
  readonly result?: string;
  readonly error?: RpcErrorBody;
}

export type ParsedFrame = { ok: true; frame: Frame } | { ok: false; reason: string };

/**
 * Longest frame (its JSON text, in bytes) on every channel: UART line, HTTP
 * body, WebSocket message, MQTT payload. mgos's `rpc.max_frame_size`
 * default; mos's largest request, an OTA.Write of 2 KB, is under 3 KB.
 * Each connection may hold one frame at a time, so this bounds what a
 * client can make the board keep (see the limits in the README).
 */
export const MAX_FRAME_SIZE = 4096;

/** Longest method, src and dst: names, not payloads (mos's longest method is 22 characters). */
export const MAX_NAME_LENGTH = 128;
/** Longest tag, as raw JSON text: it comes back in the reply. */
export const MAX_TAG_LENGTH = 256;

/**
 * A frame from outside: within the JSON limits, and parsed without taking
 * names the firmware does not know (sys/json-limits).
 */
export function parseIncomingFrame(text: string): ParsedFrame {
  const read = readJson(text);
  if (!read.ok) return { ok: false, reason: read.overLimit ? `JSON ${read.reason}` : "invalid JSON" };
  return toFrame(text, read.value);
}

/** Parse one frame (the board's own, or any on the host). Anything that is not a well-formed frame is refused with a reason. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "invalid JSON" };
  }
  return toFrame(text, value);
}

/** The frame in `text`, whose parsed value is `value`. */
function toFrame(text: string, value: unknown): ParsedFrame {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "frame is not a JSON object" };
  }
  const obj = value as Record<string, unknown>;
  const raw = rawMembers(text)!;
  const id = raw.get("id");
  if (id && id.kind !== "number" && id.kind !== "string") {
    return { ok: false, reason: "id must be a number or a string" };
  }
  const method = stringField(obj, "method");
  const src = stringField(obj, "src");
  const dst = stringField(obj, "dst");
  if (method === undefined || src === undefined || dst === undefined) {
    return { ok: false, reason: "method, src and dst must be strings" };
  }
  if (method.length > MAX_NAME_LENGTH || src.length > MAX_NAME_LENGTH || dst.length > MAX_NAME_LENGTH) {
    return { ok: false, reason: `method, src and dst are at most ${MAX_NAME_LENGTH} characters` };
  }
  const tag = raw.get("tag")?.text;
  if (tag !== undefined && tag.length > MAX_TAG_LENGTH) return { ok: false, reason: `tag is at most ${MAX_TAG_LENGTH} characters` };
  const error = obj.error;
  if (error !== undefined && !isErrorBody(error)) {
    return { ok: false, reason: "error must be {code: int, message?: string}" };
  }
  return {
    ok: true,
    frame: {
      id: id?.text,
      src,
      dst,
      tag,
      method,
      args: "params" in obj ? obj.params : obj.args,
      auth: obj.auth,
      result: raw.get("result")?.text,
      error: error as RpcErrorBody | undefined,
    },
  };
}

function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : undefined;
}

function isErrorBody(v: unknown): v is RpcErrorBody {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return Number.isInteger(e.code) && (e.message === undefined || typeof e.message === "string");
}

export type Outcome = { result: unknown } | { error: RpcErrorBody };

/**
 * The reply to `request`, sent from `deviceId`. Key order is mgrpc's: id, src,
 * dst, tag, then result or error; dst is omitted when the request had no src.
 */
export function encodeResponse(request: Frame, deviceId: string, outcome: Outcome): string {
  let out = `{"id":${request.id ?? "0"},"src":${JSON.stringify(deviceId)}`;
  if (request.src !== "") out += `,"dst":${JSON.stringify(request.src)}`;
  if (request.tag !== undefined) out += `,"tag":${request.tag}`;
  if ("error" in outcome) {
    const e = outcome.error;
    out += `,"error":{"code":${e.code}`;
    if (e.message !== undefined) out += `,"message":${JSON.stringify(e.message)}`;
    out += "}}";
  } else {
    out += `,"result":${toJson(outcome.result)}}`;
  }
  return out;
}

/** JSON text of a handler's result; "nothing" becomes null as in mgrpc. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "null" : text;
}

export interface RequestSpec {
  id: number | string;
  method: string;
  src?: string;
  dst?: string;
  params?: unknown;
  auth?: unknown;
  /** Send the deprecated `args` key instead of `params` (mos --mgrpc-compat-args). */
  compatArgs?: boolean;
}

/** A request frame in mos's shape: {"src","id","method","params"} (+dst, +auth). */
export function encodeRequest(spec: RequestSpec): string {
  const parts: string[] = [];
  if (spec.src !== undefined) parts.push(`"src":${JSON.stringify(spec.src)}`);
  if (spec.dst !== undefined) parts.push(`"dst":${JSON.stringify(spec.dst)}`);
  parts.push(`"id":${JSON.stringify(spec.id)}`);
  parts.push(`"method":${JSON.stringify(spec.method)}`);
  if (spec.params !== undefined) parts.push(`"${spec.compatArgs ? "args" : "params"}":${JSON.stringify(spec.params)}`);
  if (spec.auth !== undefined) parts.push(`"auth":${JSON.stringify(spec.auth)}`);
  return `{${parts.join(",")}}`;
}
