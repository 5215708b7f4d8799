// The board's WebSocket server, raw over TCP: the upgrade request (valid,
// or with its key, version, method, path or subprotocol wrong, and frames
// in the same packet), then frames built bit by bit: every opcode (reserved
// ones too), FIN and RSV bits, masked and unmasked, the 7-, 16- and 64-bit
// length forms (non-minimal, and lengths that lie), fragmented messages
// with control frames in between, pings and pongs of every size, close
// frames with every kind of code and reason, text that is not UTF-8,
// messages over the 16 KB limit; the messages carry generated frames.
// Byte-level mutation then applies to the frame stream, masked with a zero
// key so that the guard of policy.ts sees the text the board will see.
//
// After the frames a valid RPC.Ping message; the board answers it, or
// closes the connection (it may, after a protocol error): either way the
// case ends at once. The oracle's probe is a call through xs-ota's
// WsTransport on a new connection.

import { WsTransport } from "../../client/ws-transport.ts";
import { RpcClient } from "../../client/rpc-client.ts";
import type { FuzzBoard } from "../board.ts";
import { generateFrame, heavyJson, jsonString } from "../json-gen.ts";
import { mutateSafely } from "../mutate.ts";
import type { Rng } from "../prng.ts";
import { b64, type CaseResult, type FuzzTarget, type GenContext, unb64, withDeviceId } from "../target.ts";
import { exchange, type Chunk, type Finish } from "./raw-tcp.ts";

export interface WsPayload {
  /**
   * The upgrade request and the frames after it, as written (with pauses),
   * except that masked payloads are stored unmasked: `masks` says where they
   * are and with which key they are masked when the case is delivered (after
   * the device id is put in, see target.ts).
   */
  readonly chunks: readonly Chunk[];
  readonly masks: ReadonlyArray<{ readonly at: number; readonly length: number; readonly key: string }>;
  /** Send a valid RPC.Ping message after them and wait for its answer (or the close). */
  readonly marker: boolean;
  readonly finish: Finish;
}

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  mask: Buffer;
  payload: Buffer;
  /** 7, 16 or 64: the length form (the smallest that fits unless forced). */
  lengthForm?: 7 | 16 | 64;
  /** Length written in the header instead of the real one. */
  declared?: number | bigint;
}

/** The frame's bytes; with `deferMask`, its payload unmasked and where the mask goes. */
export function encodeWsFrame(f: FrameSpec, deferMask = false): Buffer & { maskAt?: number } {
  const len = f.payload.length;
  const form = f.lengthForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const declared = f.declared ?? len;
  const head: number[] = [(f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0x0f)];
  const m = f.masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (form === 7) head.push(m | (Number(declared) & 0x7f));
  else if (form === 16) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(declared) & 0xffff);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt.asUintN(64, BigInt(declared)));
  }
  const payload = Buffer.from(f.payload);
  if (f.masked && !deferMask) for (let i = 0; i < payload.length; i++) payload[i]! ^= f.mask[i & 3]!;
  const out: Buffer & { maskAt?: number } = Buffer.concat([Buffer.from(head), ext, f.masked ? f.mask : Buffer.alloc(0), payload]);
  if (f.masked && deferMask) out.maskAt = out.length - payload.length;
  return out;
}

function wsKey(rng: Rng): string {
  return rng.bytes(16).toString("base64");
}

const MARKER_BASE = 800_000_000;

/** A server frame's text payload if the whole frame is in `buf` at `at`; undefined if not complete. */
function serverFrames(buf: Buffer): { texts: string[]; closed: boolean } {
  const texts: string[] = [];
  let closed = false;
  let at = buf.indexOf("\r\n\r\n");
  if (at < 0) return { texts, closed };
  at += 4;
  while (at + 2 <= buf.length) {
    const op = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > buf.length) break;
    if (op === 1) texts.push(buf.subarray(p, p + len).toString("utf8"));
    if (op === 8) closed = true;
    at = p + len;
  }
  return { texts, closed };
}

export class WsTarget implements FuzzTarget<WsPayload> {
  readonly name = "ws" as const;
  readonly batchSize = 60;
  #board!: FuzzBoard;
  #port = 0;
  #marker = 0;
  #probe: RpcClient | undefined;

  async setup(board: FuzzBoard): Promise<void> {
    this.#board = board;
    this.#port = Number(new URL(board.httpUrl).port);
  }

  async reconnect(): Promise<void> {
    await this.#probe?.close().catch(() => undefined);
    this.#probe = undefined;
  }

  #handshake(rng: Rng, mutate: boolean): { bytes: Buffer; what: string } {
    const lines = [`GET /rpc HTTP/1.1`, `Host: 127.0.0.1:8080`, "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${wsKey(rng)}`, "Sec-WebSocket-Version: 13"];
    const protocol = rng.weighted([[6, "clubby.cesanta.com"], [2, ""], [1, "chat, clubby.cesanta.com"], [1, jsonString(rng, 40).slice(1, -1)]]);
    if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    if (rng.chance(0.2)) lines.push("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
    let what = "handshake";
    if (mutate) {
      const i = rng.int(lines.length);
      const variants: Record<number, string[]> = {
        0: ["GET /rpc/x HTTP/1.1", "POST /rpc HTTP/1.1", "GET /rpc HTTP/1.0", "GET /other HTTP/1.1", "GET /rpc?x=1 HTTP/1.1", "GET /rpc/ HTTP/1.1"],
        2: ["Upgrade: WebSocket", "Upgrade: h2c", "Upgrade: websocket, foo", "Upgrade:"],
        3: ["Connection: keep-alive, Upgrade", "Connection: close", "Connection: upgrade", "Connection:"],
        4: ["Sec-WebSocket-Key: short", "Sec-WebSocket-Key: ", `Sec-WebSocket-Key: ${wsKey(rng)}x`, `Sec-WebSocket-Key: ${"A".repeat(22)}==`, `Sec-WebSocket-Key: ${wsKey(rng)}, ${wsKey(rng)}`],
        5: ["Sec-WebSocket-Version: 8", "Sec-WebSocket-Version: 13, 8", "Sec-WebSocket-Version: ", "Sec-WebSocket-Version: 99999999999"],
      };
      const options = variants[i];
      if (options) {
        lines[i] = rng.pick(options);
        what = `handshake/${lines[i]}`;
      } else {
        lines.splice(i, 1);
        what = "handshake/line dropped";
      }
    }
    return { bytes: Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), what };
  }

  #frames(rng: Rng, ctx: GenContext, zeroMask: boolean): { frames: FrameSpec[]; what: string[] } {
    const frames: FrameSpec[] = [];
    const what: string[] = [];
    const mask = () => (zeroMask ? Buffer.alloc(4) : rng.bytes(4));
    const text = (): Buffer => {
      const r = rng.float();
      if (r < 0.75) return Buffer.from(generateFrame(rng, { ...ctx.frames, guarded: zeroMask ? [] : ctx.frames.guarded }).text);
      if (r < 0.85) return Buffer.from(`{"id":3,"src":"w","method":"RPC.Ping","params":${heavyJson(rng)}}`);
      if (r < 0.92) return Buffer.from([0x7b, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xff, 0x7d]);
      return rng.bytes(rng.length(200));
    };
    const n = rng.range(1, 6);
    // Half the cases keep to the protocol (the board must answer them); the other half break it somewhere.
    const clean = rng.chance(0.5);
    for (let i = 0; i < n; i++) {
      const kind = clean
        ? rng.weighted([[30, "text"], [10, "fragmented"], [6, "control"], [4, "binary"]] as const)
        : rng.weighted([[30, "text"], [10, "fragmented"], [8, "control"], [6, "close"], [5, "binary"], [4, "reserved"], [4, "rsv"], [4, "unmasked"], [5, "length"], [3, "oversize"], [3, "continuation"]] as const);
      what.push(kind);
      switch (kind) {
        case "text":
          frames.push({ fin: true, rsv: 0, opcode: 1, masked: true, mask: mask(), payload: text() });
          break;
        case "binary":
          frames.push({ fin: true, rsv: 0, opcode: 2, masked: true, mask: mask(), payload: text() });
          break;
        case "fragmented": {
          const whole = text();
          const parts = rng.range(2, 6);
          for (let p = 0, at = 0; p < parts; p++) {
            const end = p === parts - 1 ? whole.length : Math.min(whole.length, at + rng.int(whole.length - at + 1));
            frames.push({ fin: p === parts - 1, rsv: 0, opcode: p === 0 ? rng.pick([1, 1, 1, 2]) : 0, masked: true, mask: mask(), payload: whole.subarray(at, end) });
            at = end;
            if (rng.chance(0.3)) frames.push({ fin: true, rsv: 0, opcode: rng.pick([9, 10]), masked: true, mask: mask(), payload: rng.bytes(rng.int(20)) });
            if (rng.chance(0.05)) frames.push({ fin: true, rsv: 0, opcode: 1, masked: true, mask: mask(), payload: Buffer.from('{"id":9,"src":"x","method":"RPC.Ping"}') });
          }
          break;
        }
        case "control":
          frames.push({ fin: clean || rng.chance(0.9), rsv: 0, opcode: rng.pick([9, 10]), masked: true, mask: mask(), payload: rng.bytes(clean ? rng.pick([0, 1, 60, 125]) : rng.pick([0, 1, 125, 126, 200, 1000])) });
          break;
        case "close": {
          const code = rng.pick([1000, 1001, 1002, 1005, 1006, 1007, 1009, 1011, 1015, 999, 0, 2999, 3000, 4999, 5000, 65535]);
          const body = rng.weighted<Buffer>([
            [4, Buffer.alloc(0)],
            [4, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(rng.pick(["", "bye", "\u00e9"]))])],
            [1, Buffer.from([0x03])],
            [1, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from([0xc3, 0x28])])],
            [1, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(130, 0x61)])],
          ]);
          frames.push({ fin: true, rsv: 0, opcode: 8, masked: true, mask: mask(), payload: body });
          break;
        }
        case "reserved":
          frames.push({ fin: true, rsv: 0, opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), masked: true, mask: mask(), payload: text() });
          break;
        case "rsv":
          frames.push({ fin: true, rsv: rng.range(1, 7), opcode: 1, masked: true, mask: mask(), payload: text() });
          break;
        case "unmasked":
          frames.push({ fin: true, rsv: 0, opcode: 1, masked: false, mask: Buffer.alloc(4), payload: text() });
          break;
        case "length": {
          const payload = text();
          const form = rng.pick([7, 16, 64] as const);
          const declared = rng.weighted<number | bigint>([
            [3, payload.length],
            [2, payload.length + rng.range(1, 50)],
            [2, Math.max(0, payload.length - rng.range(1, 50))],
            [1, 2n ** 63n],
            [1, 2n ** 64n - 1n],
            [1, 2 ** 32],
            [1, 16385],
            [1, 125],
          ]);
          frames.push({ fin: true, rsv: 0, opcode: 1, masked: true, mask: mask(), payload, lengthForm: form, declared });
          break;
        }
        case "oversize": {
          const size = rng.pick([16383, 16384, 16385, 20000, 65536, 70000]);
          const filler = `{"id":4,"src":"o","method":"RPC.Ping","params":"${"z".repeat(Math.max(0, size - 60))}"}`;
          if (rng.chance(0.5)) frames.push({ fin: true, rsv: 0, opcode: 1, masked: true, mask: mask(), payload: Buffer.from(filler) });
          else {
            const half = Math.floor(filler.length / 2);
            frames.push({ fin: false, rsv: 0, opcode: 1, masked: true, mask: mask(), payload: Buffer.from(filler.slice(0, half)) });
            frames.push({ fin: true, rsv: 0, opcode: 0, masked: true, mask: mask(), payload: Buffer.from(filler.slice(half)) });
          }
          break;
        }
        default:
          frames.push({ fin: rng.chance(0.5), rsv: 0, opcode: 0, masked: true, mask: mask(), payload: text() });
      }
    }
    return { frames, what };
  }

  generate(rng: Rng, ctx: GenContext): { generator: string; payload: WsPayload } {
    const kind = rng.weighted([[55, "frames"], [20, "mutated"], [10, "handshake"], [8, "pieces"], [4, "together"], [3, "abandon"]] as const);
    const hs = this.#handshake(rng, kind === "handshake");
    const zeroMask = kind === "mutated";
    const { frames, what } = this.#frames(rng, ctx, zeroMask);
    // Masks are applied when the case is delivered: stored unmasked, the device id can be put in.
    const masks: Array<{ at: number; length: number; key: string }> = [];
    const encoded: Buffer[] = [];
    let at = hs.bytes.length;
    for (const f of frames) {
      const bytes = encodeWsFrame(f, kind !== "mutated");
      if (bytes.maskAt !== undefined && f.payload.length > 0) masks.push({ at: at + bytes.maskAt, length: f.payload.length, key: f.mask.toString("hex") });
      encoded.push(bytes);
      at += bytes.length;
    }
    let stream: Buffer = Buffer.concat(encoded);
    let generator = `${kind}/${hs.what}/${what.join(",")}`;
    if (kind === "mutated") {
      // Zero mask keys: the bytes on the wire are the text the board reads, which the guard checks.
      const m = mutateSafely(rng, stream);
      if (m) {
        stream = m.bytes;
        generator += `/${m.ops.join(",")}`;
      }
    }
    const chunks: Chunk[] = [];
    if (kind === "together") chunks.push({ b64: b64(Buffer.concat([hs.bytes, stream])) });
    else {
      chunks.push({ b64: b64(hs.bytes), delayMs: 2 });
      if (kind === "pieces") {
        let budget = 150;
        for (let at = 0; at < stream.length; ) {
          const n = rng.range(1, Math.max(1, Math.ceil(stream.length / 3)));
          const delayMs = Math.min(budget, rng.range(0, 30));
          budget -= delayMs;
          chunks.push({ b64: b64(stream.subarray(at, at + n)), ...(delayMs ? { delayMs } : {}) });
          at += n;
        }
      } else if (stream.length) chunks.push({ b64: b64(stream) });
    }
    const finish: Finish = kind === "abandon" ? rng.pick<Finish>(["reset", "half-close", "hold"]) : "read";
    return { generator, payload: { chunks, masks, marker: kind !== "abandon", finish } };
  }

  async execute(payload: WsPayload): Promise<CaseResult> {
    const id = MARKER_BASE + ++this.#marker;
    // The whole stream: device id in, then the masks applied; then cut where the case cuts it.
    const stream = withDeviceId(Buffer.concat(payload.chunks.map((c) => unb64(c.b64))), this.#board.deviceId);
    for (const m of payload.masks) {
      const key = Buffer.from(m.key, "hex");
      for (let i = 0; i < m.length && m.at + i < stream.length; i++) stream[m.at + i]! ^= key[i & 3]!;
    }
    const chunks: Chunk[] = [];
    let at = 0;
    for (const c of payload.chunks) {
      const n = unb64(c.b64).length;
      chunks.push({ b64: b64(stream.subarray(at, at + n)), ...(c.delayMs ? { delayMs: c.delayMs } : {}) });
      at += n;
    }
    if (payload.marker) {
      chunks.push({ b64: b64(encodeWsFrame({ fin: true, rsv: 0, opcode: 1, masked: true, mask: Buffer.from([1, 2, 3, 4]), payload: Buffer.from(`{"id":${id},"src":"fz","method":"RPC.Ping"}`) })) });
    }
    const done = (buf: Buffer) => {
      const f = serverFrames(buf);
      return f.closed || f.texts.some((t) => t.includes(`"id":${id},`)) || (buf.length > 12 && !buf.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 101"));
    };
    const x = await exchange({ port: this.#port, chunks, finish: payload.finish, done, quietMs: 150, capMs: 2000, until: Promise.resolve() });
    const f = serverFrames(x.received);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(x.received.subarray(0, 16).toString("latin1"))?.[1] ?? "none";
    const answered = f.texts.some((t) => t.includes(`"id":${id},`));
    const counts: Record<string, number> = { [`upgrade${status}`]: 1 };
    if (f.closed) counts.closedByBoard = 1;
    if (answered) counts.markerAnswered = 1;
    if (x.refused) counts.refused = 1;
    return { note: `${status} ${answered ? "answered" : f.closed ? "closed" : "silent"}`, counts };
  }

  async probe(): Promise<void> {
    // A new connection every time: the last one may have been closed by a case's reset of the board.
    await this.#probe?.close().catch(() => undefined);
    this.#probe = new RpcClient(new WsTransport(new URL(this.#board.httpUrl.replace(/^http/, "ws"))), { timeoutMs: 5000 });
    await this.#probe.call("RPC.Ping");
    await this.#probe.close();
    this.#probe = undefined;
  }

  statusOk(state: number): boolean {
    return state === 0;
  }

  async teardown(): Promise<void> {
    await this.#probe?.close().catch(() => undefined);
  }
}

