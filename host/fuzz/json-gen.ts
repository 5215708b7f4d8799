// Structure-aware generation of JSON and mgrpc frames (spec/mos-rpc.md
// §2.1): values of every type, odd numbers and strings, deep and wide
// nesting, frames whose every field takes every JSON type, calls to each
// method the firmware lists in RPC.List with typed, mistyped, missing and
// extra arguments, and bad `auth` objects.
//
// Methods that change the board's state when called with valid arguments
// (reboot, config, boot state, updates) are only ever sent with an argument
// that the handler is certain to refuse before it acts (see policy.ts).

import type { Rng } from "./prng.ts";

/** One method as RPC.Describe reports it: argument names and their Frozen types (%d, %B, %Q, %T). */
export interface MethodInfo {
  readonly name: string;
  readonly fields: ReadonlyArray<{ readonly name: string; readonly type: string }>;
}

/** `{url: %T, commit_timeout: %d}` -> [{url, T}, {commit_timeout, d}]. */
export function parseArgsFmt(fmt: string): MethodInfo["fields"] {
  return [...fmt.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*:\s*%([A-Za-z])/g)].map((m) => ({ name: m[1]!, type: m[2]! }));
}

const ODD_NUMBERS = [
  "0", "-0", "1", "-1", "0.5", "1e3", "1E+2", "-1e-7", "1e308", "1e309", "-1e999", "1e-400", "2147483647", "2147483648", "-2147483649",
  "4294967295", "4294967296", "9007199254740991", "9007199254740993", "1099511627776", "2199023255551", "123456789012345678901234567890",
  "0.1e1", "1.7976931348623157e308", "5e-324", "100000000000000000000000000000000000000000000000000",
];
const ODD_STRINGS = [
  "", " ", "a", "\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\uffff", "\\\\", '\\"', "\\/", "\\b\\f\\n\\r\\t", "\u00e9", "\u4e2d\u6587", "\ud83d\ude00",
  "%00", "%", "../../", "null", "true", "{}", "[]", '\\"\\"\\"', "\\u0004", "esp32_000000", "mos", "OTA.GetBootState", "RPC.Ping",
];

/** A JSON string literal (with quotes) made of printable and odd pieces, up to `max` characters of content. */
export function jsonString(rng: Rng, max = 64): string {
  const r = rng.float();
  if (r < 0.35) return `"${rng.pick(ODD_STRINGS)}"`;
  if (r < 0.45) {
    // A long run: near the device's string and frame limits.
    const n = rng.pick([255, 256, 1024, 4000, 4096, 8192, 16383, 16384, 16385, 20000]);
    return `"${"x".repeat(Math.min(n, Math.max(max, 16)))}"`;
  }
  let s = "";
  const n = rng.length(max);
  for (let i = 0; i < n; i++) {
    const c = rng.float();
    if (c < 0.8) s += String.fromCharCode(rng.range(0x20, 0x7e)).replace(/["\\]/, "_");
    else if (c < 0.9) s += rng.pick(ODD_STRINGS);
    else s += String.fromCharCode(rng.range(0xa0, 0x2fff));
  }
  return `"${s}"`;
}

export function jsonNumber(rng: Rng): string {
  if (rng.chance(0.5)) return rng.pick(ODD_NUMBERS);
  return String(rng.range(-1000, 100000));
}

/** Any JSON value as text, nested at most `depth` levels. */
export function jsonValue(rng: Rng, depth = 3, width = 6): string {
  const r = rng.int(depth > 0 ? 8 : 5);
  switch (r) {
    case 0:
      return "null";
    case 1:
      return rng.chance(0.5) ? "true" : "false";
    case 2:
      return jsonNumber(rng);
    case 3:
    case 4:
      return jsonString(rng);
    case 5:
    case 6: {
      const n = rng.length(width);
      const members: string[] = [];
      for (let i = 0; i < n; i++) members.push(`${jsonString(rng, 12)}:${jsonValue(rng, depth - 1, width)}`);
      return `{${members.join(",")}}`;
    }
    default: {
      const n = rng.length(width);
      const items: string[] = [];
      for (let i = 0; i < n; i++) items.push(jsonValue(rng, depth - 1, width));
      return `[${items.join(",")}]`;
    }
  }
}

/** JSON that stresses a parser's resources: deep nesting, many values, long strings. */
export function heavyJson(rng: Rng): string {
  const kind = rng.int(6);
  const depth = rng.pick([15, 16, 17, 32, 64, 200, 1000, 1900, 3000]);
  switch (kind) {
    case 0:
      return "[".repeat(depth) + "]".repeat(depth);
    case 1:
      return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    case 2:
      // Unbalanced: the closing half missing or cut.
      return "[".repeat(depth) + "]".repeat(rng.int(depth));
    case 3: {
      const n = rng.pick([500, 1023, 1024, 1025, 2000, 4000, 8000]);
      return `[${Array<string>(n).fill("0").join(",")}]`;
    }
    case 4: {
      const n = rng.pick([200, 1024, 2000]);
      const members: string[] = [];
      for (let i = 0; i < n; i++) members.push(`"k${i}":${i}`);
      return `{${members.join(",")}}`;
    }
    default:
      return `"${"y".repeat(rng.pick([4096, 16384, 16385, 30000]))}"`;
  }
}

/** Arguments for `method`: right types, wrong types, missing, extra, or not an object at all. */
export function randomArgs(rng: Rng, method: MethodInfo | undefined): string {
  const r = rng.float();
  if (!method || r < 0.1) return jsonValue(rng, 3);
  if (r < 0.15) return heavyJson(rng);
  const members: string[] = [];
  for (const field of method.fields) {
    if (rng.chance(0.3)) continue;
    const typed = rng.chance(0.7);
    members.push(`"${field.name}":${typed ? valueOfType(rng, field.type) : jsonValue(rng, 2)}`);
  }
  if (rng.chance(0.3)) members.push(`${jsonString(rng, 16)}:${jsonValue(rng, 2)}`);
  return `{${rng.shuffle(members).join(",")}}`;
}

/** A value of the Frozen type `type` (mostly sensible, sometimes at the edges). */
export function valueOfType(rng: Rng, type: string): string {
  switch (type) {
    case "d":
      return rng.chance(0.7) ? String(rng.range(-5, 600)) : rng.chance(0.5) ? jsonNumber(rng) : `"${rng.range(-5, 600)}"`;
    case "B":
      return rng.chance(0.9) ? rng.pick(["true", "false"]) : rng.pick(["0", "1", '"true"', "null"]);
    case "Q":
      return jsonString(rng, 40);
    default:
      return jsonValue(rng, 2);
  }
}

/** A value that the firmware's argument readers (rpc/args) refuse for the Frozen type `type`. */
export function poisonOfType(rng: Rng, type: string): string {
  switch (type) {
    case "d":
      return rng.pick(['"abc"', "true", "1.5", "{}", "[1]", '"1.0"', '"0x10"', "1e400", '"--1"']);
    case "B":
      return rng.pick(['"yes"', "1", "0", "[]", "{}", '"true"', '"false"']);
    case "Q":
      return rng.pick(["5", "true", "[]", "{}", "-1"]);
    default:
      throw new Error(`no poison for %${type}`);
  }
}

export interface FrameContext {
  readonly deviceId: string;
  /** Methods that may be called with any arguments. */
  readonly safe: readonly MethodInfo[];
  /** Methods that must only be called with a poisoned argument, each with the fields it reads before acting. */
  readonly guarded: readonly MethodInfo[];
}

const UNKNOWN_METHODS = ["", "OTA", "OTA.", ".", "Foo.Bar", "RPC.list", "rpc.ping", "OTA.GetBootState ", " OTA.Status", "OTA.Status\u0000", "FS.List", "Sys.SetDebug", "Sys.GetUID", "x".repeat(128), "x".repeat(129), "\u00e9t\u00e9"];

/** The raw JSON of a frame's `id`: every JSON type, the digits mos uses, and odd ones. */
export function frameId(rng: Rng): string | undefined {
  return rng.weighted<string | undefined>([
    [4, String(rng.range(0, 1_000_000))],
    [3, String(2 ** 40 + rng.int(2 ** 40))],
    [1, undefined],
    [2, jsonNumber(rng)],
    [2, jsonString(rng, 20)],
    [1, rng.pick(["null", "true", "false", "{}", "[]", "[1]", '{"a":1}'])],
  ]);
}

function nameField(rng: Rng, typical: string): string {
  return rng.weighted([
    [6, JSON.stringify(typical)],
    [2, jsonString(rng, 40)],
    [1, rng.pick(["null", "1", "true", "{}", "[]", `"${"s".repeat(129)}"`])],
  ]);
}

export interface GeneratedFrame {
  readonly text: string;
  /** It calls a guarded method (with a poisoned argument): no mutation may touch it. */
  readonly guarded: boolean;
  readonly method: string;
}

/** A bad `auth` member: missing fields, wrong types, a plausible digest with wrong values. */
function authValue(rng: Rng): string {
  if (rng.chance(0.3)) return jsonValue(rng, 2);
  const fields = {
    realm: valueOfType(rng, "Q"),
    username: rng.chance(0.5) ? '"admin"' : valueOfType(rng, "Q"),
    nonce: rng.chance(0.5) ? String(rng.range(0, 2_000_000_000)) : valueOfType(rng, "T"),
    cnonce: valueOfType(rng, "Q"),
    response: rng.chance(0.5) ? `"${rng.bytes(16).toString("hex")}"` : valueOfType(rng, "T"),
    algorithm: rng.pick(['"MD5"', '"SHA-256"', '"md5"', '"SHA-512"', "1", "null"]),
  };
  const members = Object.entries(fields).filter(() => rng.chance(0.8)).map(([k, v]) => `"${k}":${v}`);
  return `{${members.join(",")}}`;
}

/** One request frame for the dispatcher, as JSON text. */
export function generateFrame(rng: Rng, ctx: FrameContext): GeneratedFrame {
  // A guarded method, called with exactly one poisoned argument, well-formed otherwise.
  if (ctx.guarded.length > 0 && rng.chance(0.12)) return guardedFrame(rng, ctx);
  const r = rng.float();
  const info = r < 0.75 && ctx.safe.length > 0 ? rng.pick(ctx.safe) : undefined;
  const method = info ? info.name : rng.pick(UNKNOWN_METHODS);
  const members: Array<[string, string]> = [];
  const id = frameId(rng);
  if (id !== undefined) members.push(["id", id]);
  if (rng.chance(0.85)) members.push(["src", nameField(rng, rng.pick(["mos", "fuzz", "a/rpc-resp/mos-1", ctx.deviceId]))]);
  if (rng.chance(0.3)) members.push(["dst", nameField(rng, rng.chance(0.7) ? ctx.deviceId : rng.pick(["", "esp32_000000", ctx.deviceId.toLowerCase()]))]);
  members.push(["method", rng.chance(0.9) ? JSON.stringify(method) : jsonValue(rng, 1)]);
  if (rng.chance(0.7)) members.push([rng.chance(0.8) ? "params" : "args", randomArgs(rng, info)]);
  if (rng.chance(0.15)) members.push(["tag", rng.chance(0.5) ? jsonString(rng, 300) : jsonValue(rng, 2)]);
  if (rng.chance(0.1)) members.push(["auth", authValue(rng)]);
  if (rng.chance(0.05)) members.push(["result", jsonValue(rng, 2)]);
  if (rng.chance(0.05)) members.push(["error", rng.chance(0.5) ? `{"code":${jsonNumber(rng)},"message":${jsonString(rng)}}` : jsonValue(rng, 2)]);
  if (rng.chance(0.1)) members.push([JSON.parse(jsonString(rng, 12)) as string, jsonValue(rng, 2)]);
  // Duplicate keys: JSON.parse keeps the last one, a raw scanner may keep the first.
  if (rng.chance(0.08)) {
    const [k] = rng.pick(members);
    members.push([k, k === "method" ? JSON.stringify(rng.pick(ctx.safe)?.name ?? "RPC.Ping") : jsonValue(rng, 1)]);
  }
  if (rng.chance(0.7)) rng.shuffle(members);
  const ws = () => (rng.chance(0.9) ? "" : rng.pick([" ", "\t", "\r", "  \n ".slice(0, 2)]));
  let text = `{${members.map(([k, v]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${v}`).join(",")}}`;
  if (rng.chance(0.05)) text = heavyFrame(rng, method);
  return { text, guarded: false, method };
}

/** A frame whose params are heavy JSON (nesting, counts, lengths). */
function heavyFrame(rng: Rng, method: string): string {
  return `{"id":${rng.range(1, 1e6)},"src":"fuzz","method":${JSON.stringify(method)},"params":${heavyJson(rng)}}`;
}

/** A guarded method with one argument it must refuse before acting; every other field clean. */
export function guardedFrame(rng: Rng, ctx: FrameContext): GeneratedFrame {
  const { method, params } = guardedCall(rng, ctx);
  const members = [`"id":${rng.range(1, 1e9)}`, `"src":"fuzz"`, `"method":${JSON.stringify(method)}`, `"params":${params}`];
  if (rng.chance(0.3)) members.push(`"dst":${JSON.stringify(ctx.deviceId)}`);
  return { text: `{${rng.shuffle(members).join(",")}}`, guarded: true, method };
}

/** The method and its params object (text, and as raw name/value members), with exactly one field poisoned. */
export function guardedCall(rng: Rng, ctx: FrameContext): { method: string; params: string; members: Array<[string, string]> } {
  const info = rng.pick(ctx.guarded);
  const poisonable = info.fields.filter((f) => f.type !== "T");
  const poisoned = rng.pick(poisonable);
  const members: Array<[string, string]> = [[poisoned.name, poisonOfType(rng, poisoned.type)]];
  for (const field of info.fields) {
    if (field === poisoned || rng.chance(0.4)) continue;
    members.push([field.name, valueOfType(rng, field.type)]);
  }
  rng.shuffle(members);
  return { method: info.name, params: `{${members.map(([k, v]) => `"${k}":${v}`).join(",")}}`, members };
}
