// The board's HTTP server, raw over TCP: request lines with every method
// and odd targets (/rpc frame mode, /rpc/<Method> REST with query strings,
// percent-escapes, absolute form, other paths), headers (Content-Length
// right, short, long, absurd, doubled; chunked; Expect: 100-continue;
// keep-alive; digest Authorization; floods, folding, bare LF), pipelined
// requests, heads and bodies in slow pieces (bounded), several connections
// at once, some abandoned or reset, then byte-level mutation of it all.
//
// The oracle's probe is an RPC.Ping over a connection of its own, as
// xs-ota's HttpTransport makes it.

import type { FuzzBoard } from "../board.ts";
import { within } from "../board.ts";
import { generateFrame, guardedCall, guardedFrame, heavyJson, jsonString, jsonValue, randomArgs } from "../json-gen.ts";
import { mutateSafely } from "../mutate.ts";
import type { Rng } from "../prng.ts";
import { b64, type CaseResult, type FuzzTarget, type GenContext, withDeviceId } from "../target.ts";
import { exchange, type Chunk, type Finish } from "./raw-tcp.ts";

export interface HttpConnection {
  readonly chunks: readonly Chunk[];
  readonly finish: Finish;
}

export interface HttpPayload {
  readonly conns: readonly HttpConnection[];
  /** All connections at once (else one after another). */
  readonly parallel: boolean;
}

interface Req {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Content-Length as sent (undefined: computed from the body). */
  contentLength?: string | null;
  eol: string;
}

function encodeReq(r: Req): Buffer {
  const lines = [`${r.method} ${r.target}${r.version ? " " + r.version : ""}`];
  for (const [k, v] of r.headers) lines.push(k === "" ? v : `${k}: ${v}`);
  if (r.contentLength !== null) lines.push(`Content-Length: ${r.contentLength ?? r.body.length}`);
  return Buffer.concat([Buffer.from(lines.join(r.eol) + r.eol + r.eol, "latin1"), r.body]);
}

const ODD_METHODS = ["PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "get", "Post", "GE T", "G\x00T", "\u00e9", "X".repeat(300), "M-SEARCH", "PRI"];

function percentEncodeSome(rng: Rng, s: string): string {
  return [...s].map((c) => (rng.chance(0.2) ? "%" + c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase() : c)).join("");
}

/** encodeURIComponent that takes lone surrogates too (as their UTF-8 replacement). */
function pct(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) out += /[A-Za-z0-9\-_.!~*'()]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + b.toString(16).padStart(2, "0").toUpperCase();
  return out;
}

/** A query string of JSON values, as mgrpc reads it (values raw after decoding). */
function queryOf(rng: Rng, argsJson: string): string {
  let obj: unknown;
  try {
    obj = JSON.parse(argsJson);
  } catch {
    return pct(argsJson);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return `v=${pct(argsJson)}`;
  return Object.entries(obj as Record<string, unknown>)
    .map(([k, v]) => `${rng.chance(0.9) ? pct(k) : k}=${rng.chance(0.9) ? pct(JSON.stringify(v)) : JSON.stringify(v)}`)
    .join("&");
}

/**
 * Generated requests name the board as 127.0.0.1:8080 (Host, absolute-form
 * targets), whatever port it listens on: the board routes by path, and a
 * case must not depend on the port its board happened to get.
 */
export class HttpTarget implements FuzzTarget<HttpPayload> {
  readonly name = "http" as const;
  readonly batchSize = 60;
  #board!: FuzzBoard;
  #port = 0;
  #probeId = 0;

  async setup(board: FuzzBoard): Promise<void> {
    this.#board = board;
    this.#port = Number(new URL(board.httpUrl).port);
  }

  async reconnect(): Promise<void> {}

  /** A well-formed request that carries a guarded call with its poisoned argument: nothing around it is mutated. */
  #guardedRequest(rng: Rng, ctx: GenContext): { req: Req; what: string } {
    const host: Array<[string, string]> = [["Host", `127.0.0.1:8080`]];
    if (rng.chance(0.4)) {
      const f = guardedFrame(rng, ctx.frames);
      return { req: { method: "POST", target: "/rpc", version: "HTTP/1.1", headers: [...host, ["Content-Type", "application/json"]], body: Buffer.from(f.text), eol: "\r\n" }, what: `guarded frame ${f.method}` };
    }
    const call = guardedCall(rng, ctx.frames);
    if (rng.chance(0.5)) {
      return { req: { method: "POST", target: `/rpc/${call.method}`, version: "HTTP/1.1", headers: host, body: Buffer.from(call.params), eol: "\r\n" }, what: `guarded REST POST ${call.method}` };
    }
    // Values go raw (percent-encoded) into the query, as mgrpc inserts them: the poison stays exactly as written.
    const query = call.members.map(([k, v]) => `${k}=${pct(v)}`).join("&");
    return { req: { method: "GET", target: `/rpc/${call.method}?${query}`, version: "HTTP/1.1", headers: host, body: Buffer.alloc(0), eol: "\r\n" }, what: `guarded REST GET ${call.method}` };
  }

  #request(rng: Rng, ctx: GenContext): { req: Req; what: string } {
    const safe = ctx.frames.safe;
    const method = rng.weighted([[30, "GET"], [40, "POST"], [3, "HEAD"], [5, "OPTIONS"], [6, rng.pick(ODD_METHODS)]]);
    const info = safe.length ? rng.pick(safe) : undefined;
    const targetKind = rng.weighted([[25, "frame"], [5, "frame/"], [40, "rest"], [10, "rest-odd"], [8, "other"]] as const);
    let target: string;
    let body: Buffer = Buffer.alloc(0);
    let what: string = targetKind;
    switch (targetKind) {
      case "frame":
      case "frame/": {
        const f = generateFrame(rng, { ...ctx.frames, guarded: [] });
        target = targetKind === "frame" ? "/rpc" : "/rpc/";
        body = Buffer.from(rng.chance(0.95) ? f.text : heavyJson(rng));
        what = `frame ${f.method}`;
        break;
      }
      case "rest": {
        const name = info?.name ?? "RPC.Ping";
        target = `/rpc/${rng.chance(0.15) ? percentEncodeSome(rng, name) : name}`;
        const args = randomArgs(rng, info);
        if (rng.chance(0.4)) target += `?${rng.chance(0.85) ? queryOf(rng, args) : rng.pick(["", "&", "=", "a", "%", "%zz", "a=%", "x=1&".repeat(40), "a=b=c", "\u00e9=1", "a=1#frag"])}`;
        else if (method !== "GET" || rng.chance(0.3)) body = Buffer.from(rng.chance(0.92) ? args : heavyJson(rng));
        what = `rest ${name}`;
        break;
      }
      case "rest-odd":
        target = `/rpc/${rng.pick(["", "/RPC.Ping", "RPC.Ping/extra", "%", "%zz", "%00", "%C3%A9", "x".repeat(129), "x".repeat(rng.range(200, 9000)), "RPC.Ping%2F..", "..%2F..", "RPC.Ping?", "RPC.Ping#x", jsonString(rng, 20)])}`;
        if (rng.chance(0.5)) body = Buffer.from(jsonValue(rng, 2));
        break;
      default:
        target = rng.pick(["/", "*", "/rpcx", "/RPC/RPC.Ping", "//rpc", "/rpc/../rpc", `http://127.0.0.1:8080/rpc/RPC.Ping`, "http://x", "/" + "a".repeat(rng.range(100, 9000)), "/ rpc", "rpc", "/rpc?x=1"]);
        if (rng.chance(0.5)) body = Buffer.from(generateFrame(rng, { ...ctx.frames, guarded: [] }).text);
    }
    const headers: Array<[string, string]> = [];
    if (rng.chance(0.85)) headers.push(["Host", rng.chance(0.9) ? `127.0.0.1:8080` : jsonString(rng, 30)]);
    if (rng.chance(0.5)) headers.push(["Content-Type", rng.pick(["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])]);
    if (rng.chance(0.3)) headers.push(["Connection", rng.pick(["keep-alive", "close", "Keep-Alive", "upgrade", "keep-alive, Upgrade", "TE", ""])]);
    if (rng.chance(0.08)) headers.push(["Expect", rng.pick(["100-continue", "100-Continue", "200-ok", ""])]);
    if (rng.chance(0.06)) headers.push(["Upgrade", rng.pick(["h2c", "websocket", "foo", ""])]);
    if (rng.chance(0.08)) {
      const f = (k: string, v: string) => (rng.chance(0.85) ? `${k}="${v}"` : rng.chance(0.5) ? `${k}=${v}` : k);
      headers.push(["Authorization", `Digest ${[f("username", "admin"), f("realm", "RPC"), f("nonce", String(rng.range(0, 2e9))), f("uri", target.slice(0, 40)), f("response", rng.bytes(16).toString("hex")), f("qop", "auth"), f("nc", "00000001"), f("cnonce", "x"), f("algorithm", rng.pick(["MD5", "SHA-256", "x"]))].filter(() => rng.chance(0.85)).join(", ")}`]);
    }
    if (rng.chance(0.2)) headers.push([rng.pick(["X-Fuzz", "Accept", "User-Agent", "Origin", "Cookie", "Range"]), jsonString(rng, 60).slice(1, -1)]);
    let contentLength: string | null | undefined;
    const cl = rng.weighted([[75, "right"], [8, "none"], [5, "short"], [5, "long"], [5, "odd"], [2, "double"]] as const);
    if (cl === "none") contentLength = null;
    else if (cl === "short") contentLength = String(Math.max(0, body.length - rng.range(1, 10)));
    else if (cl === "long") contentLength = String(body.length + rng.range(1, 100));
    else if (cl === "odd") contentLength = rng.pick(["-1", "abc", "99999999999999999999", "16385", "16384", " 5", "+5", "0x10", "", "1.5", "5, 5", String(2 ** 32 + body.length)]);
    else if (cl === "double") headers.push(["Content-Length", String(body.length + rng.range(0, 3))]);
    if (rng.chance(0.07)) {
      headers.push(["Transfer-Encoding", rng.pick(["chunked", "identity", "gzip, chunked", "Chunked", "chunked, identity"])]);
      if (rng.chance(0.6)) {
        body = Buffer.from(`${body.length.toString(16)}\r\n${body.toString("latin1")}\r\n0\r\n\r\n`, "latin1");
        if (rng.chance(0.5)) contentLength = null;
      }
    }
    if (rng.chance(0.03)) for (let i = rng.range(50, 600); i > 0; i--) headers.push([`X-H${i}`, "v"]);
    if (rng.chance(0.03)) headers.push(["X-Long", "v".repeat(rng.pick([4000, 8192, 9000, 17000]))]);
    if (rng.chance(0.02)) headers.push(["", rng.pick(["no colon here", " folded continuation", ":empty name", "Bad Name: x", "X:\x00", "\t"])]);
    rng.shuffle(headers);
    const version = rng.weighted([[90, "HTTP/1.1"], [4, "HTTP/1.0"], [1, "HTTP/2.0"], [1, "HTTP/1.2"], [1, ""], [1, "HTTP/1.1 x"], [1, "http/1.1"], [1, "HTTP/11"]]);
    const eol = rng.weighted([[90, "\r\n"], [8, "\n"], [2, "\r"]]);
    if (rng.chance(0.03)) body = Buffer.concat([body, Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80])]);
    return { req: { method, target, version, headers, body, contentLength, eol }, what: `${method} ${what}` };
  }

  generate(rng: Rng, ctx: GenContext): { generator: string; payload: HttpPayload } {
    const kind = rng.weighted([[40, "single"], [25, "mutated"], [8, "pipelined"], [8, "pieces"], [6, "parallel"], [8, "guarded"], [5, "finish"]] as const);
    const single = (bytes: Buffer, finish: Finish = "read", delays = false): HttpConnection => {
      const chunks: Chunk[] = [];
      if (!delays) chunks.push({ b64: b64(bytes) });
      else {
        let budget = 200;
        for (let at = 0; at < bytes.length; ) {
          const n = rng.range(1, Math.max(1, Math.ceil(bytes.length / 4)));
          const delayMs = Math.min(budget, rng.range(0, 40));
          budget -= delayMs;
          chunks.push({ b64: b64(bytes.subarray(at, at + n)), ...(delayMs ? { delayMs } : {}) });
          at += n;
        }
      }
      return { chunks, finish };
    };
    switch (kind) {
      case "single": {
        const { req, what } = this.#request(rng, ctx);
        return { generator: `single/${what}`, payload: { conns: [single(encodeReq(req))], parallel: false } };
      }
      case "guarded": {
        const { req, what } = this.#guardedRequest(rng, ctx);
        if (rng.chance(0.3)) req.headers.push(["Connection", rng.pick(["keep-alive", "close"])]);
        return { generator: what, payload: { conns: [single(encodeReq(req))], parallel: false } };
      }
      case "mutated": {
        const a = this.#request(rng, ctx);
        const bytes = encodeReq(a.req);
        const m = mutateSafely(rng, bytes, encodeReq(this.#request(rng, ctx).req));
        return { generator: m ? `mutated/${a.what}/${m.ops.join(",")}` : `single/${a.what}`, payload: { conns: [single(m ? m.bytes : bytes)], parallel: false } };
      }
      case "pipelined": {
        const n = rng.range(2, 12);
        const reqs: Buffer[] = [];
        for (let i = 0; i < n; i++) {
          const { req } = this.#request(rng, ctx);
          if (rng.chance(0.8)) req.headers.push(["Connection", "keep-alive"]);
          reqs.push(encodeReq(req));
        }
        return { generator: `pipelined/${n}`, payload: { conns: [single(Buffer.concat(reqs))], parallel: false } };
      }
      case "pieces": {
        const { req, what } = this.#request(rng, ctx);
        return { generator: `pieces/${what}`, payload: { conns: [single(encodeReq(req), "read", true)], parallel: false } };
      }
      case "parallel": {
        const n = rng.range(2, 4);
        const conns: HttpConnection[] = [];
        for (let i = 0; i < n; i++) {
          const bytes = encodeReq(this.#request(rng, ctx).req);
          const finish = rng.weighted<Finish>([[5, "read"], [2, "hold"], [1, "reset"], [1, "half-close"]]);
          // A held connection sends part of its head and stays: a slow client taking a pcb.
          conns.push(single(finish === "hold" ? bytes.subarray(0, rng.int(bytes.length)) : bytes, finish));
        }
        return { generator: `parallel/${conns.map((c) => c.finish).join(",")}`, payload: { conns, parallel: true } };
      }
      default: {
        const { req, what } = this.#request(rng, ctx);
        const bytes = encodeReq(req);
        const finish = rng.pick<Finish>(["half-close", "reset", "hold"]);
        const cut = finish === "hold" || rng.chance(0.5) ? bytes.subarray(0, rng.int(bytes.length + 1)) : bytes;
        return { generator: `finish-${finish}/${what}`, payload: { conns: [single(cut, finish)], parallel: false } };
      }
    }
  }

  async execute(payload: HttpPayload): Promise<CaseResult> {
    const statuses: number[] = [];
    let refused = 0;
    let release!: () => void;
    const over = new Promise<void>((r) => (release = r));
    const transform = (b: Buffer) => withDeviceId(b, this.#board.deviceId);
    const run = (c: HttpConnection) => exchange({ port: this.#port, chunks: c.chunks, finish: c.finish, until: over, transform }).then((x) => {
      statuses.push(...x.statuses);
      if (x.refused) refused++;
    });
    if (payload.parallel) {
      const active = payload.conns.filter((c) => c.finish !== "hold").map(run);
      const held = payload.conns.filter((c) => c.finish === "hold").map(run);
      await Promise.all(active);
      release();
      await Promise.all(held);
    } else {
      for (const c of payload.conns) {
        const p = run(c);
        if (c.finish === "hold") setTimeout(release, 50);
        await p;
      }
    }
    release();
    const counts: Record<string, number> = {};
    for (const s of statuses) counts[`http${s}`] = (counts[`http${s}`] ?? 0) + 1;
    if (refused) counts.refused = refused;
    return { note: statuses.join(","), counts };
  }

  async probe(): Promise<void> {
    const id = ++this.#probeId;
    const r = await within(this.#board.rpc.call("RPC.Ping"), 5000, `RPC.Ping ${id} over HTTP`);
    if (typeof r !== "object") throw new Error("RPC.Ping over HTTP: unexpected result");
  }

  statusOk(state: number): boolean {
    return state === 0;
  }

  async teardown(): Promise<void> {}
}
