// Byte-level mutation of a valid input, AFL/libFuzzer style: bit flips,
// interesting bytes and integers, truncation, insertion, deletion,
// duplication of a range, and splicing with another input. Each mutation
// says what it did, so a finding's report names it.

import { mentionsGuarded } from "./policy.ts";
import type { Rng } from "./prng.ts";

const INTERESTING_8 = [0x00, 0x01, 0x04, 0x0a, 0x0d, 0x11, 0x13, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xc0, 0xe0, 0xf0, 0xfe, 0xff];
const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
/** Text that means something to one of the parsers: JSON, HTTP, WebSocket handshakes, mos framing. */
const TOKENS = [
  '"""', "\x04", "\n", "\r\n", "\r\n\r\n", "{", "}", "[", "]", '"', "\\", "\\u0000", "\\ud800", ":", ",", "null", "true", "-0", "1e999",
  "18446744073709551616", '"id"', '"method"', '"src"', '"dst"', '"params"', '"args"', '"tag"', '"auth"', "Content-Length: ", "Transfer-Encoding: chunked",
  "Expect: 100-continue", "Connection: keep-alive", "Upgrade: websocket", "%00", "%ff", "%", "?", "&", "=", "/", "\xc3\x28", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
];

export interface Mutated {
  readonly bytes: Buffer;
  readonly ops: string[];
}

type Op = (rng: Rng, b: Buffer, other: Buffer | undefined) => { bytes: Buffer; op: string };

const ops: ReadonlyArray<readonly [number, Op]> = [
  [6, (rng, b) => {
    if (b.length === 0) return { bytes: b, op: "bitflip(empty)" };
    const out = Buffer.from(b);
    const at = rng.int(out.length);
    const bit = rng.int(8);
    out[at]! ^= 1 << bit;
    return { bytes: out, op: `bitflip@${at}.${bit}` };
  }],
  [4, (rng, b) => {
    if (b.length === 0) return { bytes: b, op: "byte(empty)" };
    const out = Buffer.from(b);
    const at = rng.int(out.length);
    const v = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.int(256);
    out[at] = v;
    return { bytes: out, op: `byte@${at}=${v}` };
  }],
  [2, (rng, b) => {
    if (b.length < 4) return { bytes: b, op: "int32(short)" };
    const out = Buffer.from(b);
    const at = rng.int(out.length - 3);
    const v = rng.pick(INTERESTING_32);
    if (rng.chance(0.5)) out.writeUInt32LE(v >>> 0, at);
    else out.writeUInt32BE(v >>> 0, at);
    return { bytes: out, op: `int32@${at}=${v}` };
  }],
  [3, (rng, b) => {
    const at = rng.int(b.length + 1);
    return { bytes: b.subarray(0, at), op: `truncate@${at}` };
  }],
  [3, (rng, b) => {
    const at = rng.int(b.length + 1);
    const len = rng.range(1, 8);
    const n = Math.min(len, b.length - at);
    return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + n)]), op: `delete@${at}+${n}` };
  }],
  [3, (rng, b) => {
    const at = rng.int(b.length + 1);
    const insert = rng.chance(0.6) ? Buffer.from(rng.pick(TOKENS), "latin1") : rng.bytes(rng.range(1, 16));
    return { bytes: Buffer.concat([b.subarray(0, at), insert, b.subarray(at)]), op: `insert@${at}+${insert.length}` };
  }],
  [2, (rng, b) => {
    if (b.length === 0) return { bytes: b, op: "dup(empty)" };
    const from = rng.int(b.length);
    const n = rng.range(1, Math.min(64, b.length - from));
    const times = rng.weighted([[6, 1], [3, rng.range(2, 16)], [1, rng.range(16, 512)]]);
    const piece = b.subarray(from, from + n);
    const at = rng.int(b.length + 1);
    return { bytes: Buffer.concat([b.subarray(0, at), ...Array<Buffer>(times).fill(piece), b.subarray(at)]), op: `dup@${from}+${n}x${times}->${at}` };
  }],
  [2, (rng, b, other) => {
    if (!other || other.length === 0) return { bytes: b, op: "splice(none)" };
    const cut = rng.int(b.length + 1);
    const from = rng.int(other.length);
    return { bytes: Buffer.concat([b.subarray(0, cut), other.subarray(from)]), op: `splice@${cut}<-${from}` };
  }],
  [1, (rng, b) => {
    if (b.length < 2) return { bytes: b, op: "swap(short)" };
    const i = rng.int(b.length);
    const j = rng.int(b.length);
    const out = Buffer.from(b);
    [out[i], out[j]] = [out[j]!, out[i]!];
    return { bytes: out, op: `swap@${i},${j}` };
  }],
];

/** 1 to `maxOps` stacked mutations of `input` (optionally splicing with `other`). */
export function mutateBytes(rng: Rng, input: Buffer, other?: Buffer, maxOps = 4): Mutated {
  let bytes = input;
  const done: string[] = [];
  const count = rng.weighted([[8, 1], [4, 2], [2, 3], [1, maxOps]]);
  for (let i = 0; i < count; i++) {
    const op = rng.weighted(ops);
    const r = op(rng, bytes, other);
    bytes = r.bytes;
    done.push(r.op);
  }
  return { bytes, ops: done };
}

/**
 * A mutation of `input` that names no guarded method (policy.ts), or
 * undefined when eight draws all did. `input` itself must name none.
 */
export function mutateSafely(rng: Rng, input: Buffer, other?: Buffer, maxOps = 4): Mutated | undefined {
  for (let attempt = 0; attempt < 8; attempt++) {
    const m = mutateBytes(rng, input, other, maxOps);
    if (!mentionsGuarded(m.bytes)) return m;
  }
  return undefined;
}
