// Packages through both ways into the board (packages.ts makes them):
//
// ota-push: OTA.Status, OTA.Begin {timeout, commit_timeout, size}, OTA.Write
//   {offset, data} chunk by chunk, OTA.End, as mos ota and xs-ota ota send
//   them (host/cli/ota-command.ts), over HTTP mostly and over the UART (mos
//   framing) and WebSocket; the push itself mutated too: odd sizes and chunk
//   sizes, a chunk sent again (a retry), skipped, with bad base64 or a bad
//   offset, OTA.End early, OTA.Begin twice.
// ota-update: OTA.Update {url, commit_timeout, timeout} with the package on
//   a local server that answers as the case says: plainly, or with another
//   status, redirects (loops too), lying or missing lengths, chunked bodies
//   (broken too), huge or bare-LF heads, a connection dropped mid-body and
//   what follows the resume, a stalled body (the progress watchdog ends it:
//   the board's clock is moved), and odd URLs.
//
// A package the board accepts must be acceptable() (its app part a known
// valid image): else it is a state change. After an accepted package the
// board is made fresh (the engine does it). After every case no update may
// be left in progress.

import net from "node:net";
import { RemoteError, RpcClient, TimeoutError } from "../../client/rpc-client.ts";
import { SerialTransport } from "../../client/serial-transport.ts";
import { WsTransport } from "../../client/ws-transport.ts";
import { sleep, type FuzzBoard, type FuzzFirmware } from "../board.ts";
import { jsonValue } from "../json-gen.ts";
import { acceptable, mutatePackage } from "../packages.ts";
import type { Rng } from "../prng.ts";
import { b64, type CaseResult, type FuzzTarget, type GenContext, unb64 } from "../target.ts";

type Channel = "http" | "uart" | "ws";

export interface PushPayload {
  readonly what: string;
  readonly zip: string;
  readonly channel: Channel;
  /** OTA.Begin's params as JSON text. */
  readonly begin: string;
  readonly chunk: number;
  readonly plan: { readonly kind: "normal" | "repeat" | "gap" | "bad-data" | "bad-offset" | "end-early" | "begin-twice"; readonly at: number; readonly value?: string };
}

function describeError(e: unknown): string {
  if (e instanceof RemoteError) return `error ${e.code}${e.remoteMessage ? ` ${e.remoteMessage.slice(0, 60)}` : ""}`;
  if (e instanceof TimeoutError) return "no answer";
  return (e as Error).message.slice(0, 80);
}

abstract class OtaTarget<P> {
  readonly batchSize = 8;
  protected board!: FuzzBoard;
  protected readonly fw: FuzzFirmware;
  protected ctx!: GenContext;
  /** Whether mutations deep in the v2 image (a whole transfer each) may be drawn. */
  protected costly = true;

  constructor(fw: FuzzFirmware) {
    this.fw = fw;
  }

  async setup(board: FuzzBoard, ctx: GenContext): Promise<void> {
    this.board = board;
    this.ctx = ctx;
  }

  async reconnect(): Promise<void> {}

  async probe(): Promise<void> {
    await this.board.rpc.call("RPC.Ping");
  }

  statusOk(state: number): boolean {
    return state !== 1;
  }

  /** What follows the board's answer: a fault if an invalid package went in or the update is still running. */
  /**
   * `irregularAt`: where the push skipped or garbled a chunk. Bytes after the
   * app entry (the central directory, trailing junk) are not needed: a
   * package accepted without them is counted, not a finding.
   */
  protected async after(zip: Buffer, applied: boolean, irregularAt: number | undefined, note: string, counts: Record<string, number>): Promise<CaseResult> {
    if (applied) {
      counts.accepted = 1;
      const verdict = acceptable(zip, this.fw);
      if (!verdict.ok) return { note, counts, fault: { kind: "stateChange", detail: `the board accepted a package it must refuse: ${verdict.why}` } };
      if (irregularAt !== undefined) {
        if (irregularAt < verdict.appEnd!) return { note, counts, fault: { kind: "stateChange", detail: `the board accepted a package whose transfer was broken at ${irregularAt}, inside its first ${verdict.appEnd} bytes (a skipped or garbled chunk)` } };
        counts.acceptedWithoutTail = 1;
      }
      return { note, counts, applied: true };
    }
    const status = (await this.board.rpc.call("OTA.Status").catch(() => undefined)) as { state?: number } | undefined;
    if (status?.state === 1) {
      await this.board.rpc.call("OTA.End").catch(() => undefined);
      return { note, counts, fault: { kind: "stateChange", detail: "an update was left in progress after the transfer ended (OTA.End sent)" } };
    }
    return { note, counts };
  }

  async teardown(): Promise<void> {}

  abstract generate(rng: Rng, ctx: GenContext): { generator: string; payload: P };
}

export class OtaPushTarget extends OtaTarget<PushPayload> implements FuzzTarget<PushPayload> {
  readonly name = "ota-push" as const;
  #uart: RpcClient | undefined;
  #ws: RpcClient | undefined;

  override async setup(board: FuzzBoard, ctx: GenContext): Promise<void> {
    await super.setup(board, ctx);
    this.#uart = new RpcClient(await SerialTransport.open({ path: board.board.uartPath }), { timeoutMs: 5000 });
    this.#ws = new RpcClient(new WsTransport(new URL(board.httpUrl.replace(/^http/, "ws"))), { timeoutMs: 5000 });
  }

  generate(rng: Rng): { generator: string; payload: PushPayload } {
    const pkg = mutatePackage(rng, this.fw, { allowCostly: false });
    // Costly mutations (a whole v2 transfer) now and then.
    const p = pkg.costly && !rng.chance(0.15) ? mutatePackage(rng, this.fw, { allowCostly: false }) : pkg;
    const channel = rng.weighted<Channel>([[75, "http"], [15, "uart"], [10, "ws"]]);
    const size = rng.weighted<unknown>([[80, p.zip.length], [5, undefined], [4, 0], [3, p.zip.length + rng.range(1, 1000)], [3, Math.max(1, p.zip.length - rng.range(1, 100))], [2, 0x7fffffff], [2, String(p.zip.length)], [1, -5]]);
    const begin: Record<string, unknown> = { timeout: rng.weighted([[8, 600], [2, rng.range(1, 30)]]), commit_timeout: rng.weighted([[6, 300], [3, 0], [1, rng.pick([1, 2 ** 31 - 1, "60"])]]) };
    if (size !== undefined) begin.size = size;
    const chunks = Math.ceil(p.zip.length / 512);
    const kind = rng.weighted([[70, "normal"], [8, "repeat"], [5, "gap"], [5, "bad-data"], [4, "bad-offset"], [4, "end-early"], [4, "begin-twice"]] as const);
    const at = rng.int(Math.max(1, Math.min(chunks, 8)));
    const value =
      kind === "bad-data" ? rng.pick(["@@@@", "", "=", "QQ", "QUJD=", " QUJD", "QUJD\n", "Zm9v!", "a".repeat(5000), JSON.stringify(jsonValue(rng, 1))]) : kind === "bad-offset" ? rng.pick(['"0"', "-1", "1.5", "null", "1e400", '"x"', "4294967296", "[]"]) : undefined;
    const chunk = channel === "uart" ? rng.pick([512, 1024, 2048]) : rng.weighted([[6, 2048], [2, 512], [1, rng.range(16, 3000)]]);
    return {
      generator: `${channel} ${kind}@${at} chunk ${chunk} size ${JSON.stringify(size)}: ${p.what}`,
      payload: { what: p.what, zip: b64(p.zip), channel, begin: JSON.stringify(begin), chunk, plan: { kind, at, ...(value !== undefined ? { value } : {}) } },
    };
  }

  #client(channel: Channel): RpcClient {
    return channel === "uart" ? this.#uart! : channel === "ws" ? this.#ws! : this.board.rpc;
  }

  async execute(payload: PushPayload): Promise<CaseResult> {
    const zip = unb64(payload.zip);
    const rpc = this.#client(payload.channel);
    const counts: Record<string, number> = { [payload.channel]: 1 };
    const { kind, at, value } = payload.plan;
    await rpc.call("OTA.Status").catch(() => undefined);
    try {
      await rpc.call("OTA.Begin", JSON.parse(payload.begin));
      if (kind === "begin-twice") await rpc.call("OTA.Begin", JSON.parse(payload.begin)).catch(() => undefined);
    } catch (e) {
      counts.beginRefused = 1;
      return this.after(zip, false, undefined, `OTA.Begin: ${describeError(e)}`, counts);
    }
    let refusedAt: string | undefined;
    let irregular: number | undefined;
    let index = 0;
    for (let offset = 0; offset < zip.length; offset += payload.chunk, index++) {
      let data = zip.subarray(offset, offset + payload.chunk).toString("base64");
      let offsetText = String(offset);
      if (index === at) {
        if (kind === "end-early") break;
        if (kind === "gap") {
          irregular = offset;
          continue;
        }
        if (kind === "bad-data") {
          irregular = offset;
          data = value!;
        }
        if (kind === "bad-offset") {
          // null is "no offset" (append), and "0" at 0 names the right one: the board may take
          // these (rpc/args reads integers written as strings), and the transfer is then whole.
          if (value !== "null" && value !== `"${offset}"`) irregular = offset;
          offsetText = value!;
        }
      }
      try {
        // The raw params text keeps odd offsets (1e400, -1) as written.
        await rpc.callRaw("OTA.Write", JSON.parse(`{"offset":${offsetText},"data":${JSON.stringify(data)}}`.replace(/:1e400,/, ":1e308,")));
        if (kind === "repeat" && index === at) await rpc.callRaw("OTA.Write", { offset, data });
      } catch (e) {
        refusedAt = `OTA.Write @${offset}: ${describeError(e)}`;
        break;
      }
    }
    let applied = false;
    let note = refusedAt ?? "";
    try {
      await rpc.call("OTA.End");
      applied = true;
      note += " OTA.End: applied";
    } catch (e) {
      note += ` OTA.End: ${describeError(e)}`;
      counts.refused = 1;
    }
    return this.after(zip, applied, irregular, note.trim(), counts);
  }

  override async teardown(): Promise<void> {
    await this.#uart?.close().catch(() => undefined);
    await this.#ws?.close().catch(() => undefined);
  }
}

/** How the package server answers one request of a case. */
export interface ServeStep {
  readonly kind: "file" | "status" | "redirect" | "length" | "chunked" | "head" | "drop" | "stall" | "raw";
  readonly value?: string;
  readonly n?: number;
}

export interface UpdatePayload {
  readonly what: string;
  readonly zip: string;
  /** "{server}" and "{board}" are replaced by the servers' addresses. */
  readonly url: string;
  readonly params: string;
  /** The answer to request 1, 2, ...; the last one answers the rest. */
  readonly serve: readonly ServeStep[];
}

const MAX_REQUESTS_PER_CASE = 40;

/** A package server made for fuzzing: answers each request of the current case as its script says. */
class ScriptedServer {
  readonly server: net.Server;
  #case: { index: number; zip: Buffer; serve: readonly ServeStep[]; requests: number } | undefined;
  #sockets = new Set<net.Socket>();
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => this.#accept(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  begin(index: number, zip: Buffer, serve: readonly ServeStep[]): void {
    this.#case = { index, zip, serve, requests: 0 };
  }

  /** Requests seen for the current case. */
  get requests(): number {
    return this.#case?.requests ?? 0;
  }

  end(): void {
    this.#case = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 65536) socket.destroy();
        return;
      }
      socket.off("data", onData);
      this.#answer(socket, head.subarray(0, end).toString("latin1"));
    };
    socket.on("data", onData);
  }

  #answer(socket: net.Socket, head: string): void {
    const c = this.#case;
    const path = /^\S+ (\S+)/.exec(head)?.[1] ?? "";
    if (!c || !path.startsWith(`/c${c.index}/`) || c.requests >= MAX_REQUESTS_PER_CASE) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const step = c.serve[Math.min(c.requests, c.serve.length - 1)]!;
    c.requests++;
    const range = /\r\nrange:\s*bytes=(\d+)-/i.exec(head);
    const from = range ? Math.min(Number(range[1]), c.zip.length) : 0;
    const body = c.zip.subarray(from);
    const okHead = (extra = "") =>
      range
        ? `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nContent-Range: bytes ${from}-${c.zip.length - 1}/${c.zip.length}\r\n${extra}Connection: close\r\n\r\n`
        : `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}Connection: close\r\n\r\n`;
    switch (step.kind) {
      case "file":
        socket.end(Buffer.concat([Buffer.from(okHead()), body]));
        return;
      case "status":
        socket.end(`HTTP/1.1 ${step.value} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno`);
        return;
      case "redirect":
        socket.end(`HTTP/1.1 ${step.n ?? 302} Found\r\nLocation: ${(step.value ?? "").replace("{server}", `127.0.0.1:${this.port}`).replace("{case}", `c${c.index}`)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      case "length":
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\n${step.value === "none" ? "" : `Content-Length: ${step.value === "short" ? body.length - 100 : step.value === "long" ? body.length + 100 : step.value}\r\n`}Connection: close\r\n\r\n`), body]));
        return;
      case "chunked": {
        const parts: Buffer[] = [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")];
        const size = step.n ?? 1000;
        for (let at = 0; at < body.length; at += size) {
          const piece = body.subarray(at, at + size);
          parts.push(Buffer.from(`${step.value === "bad-size" && at === 0 ? "zz" : piece.length.toString(16)}${step.value === "ext" ? ";x=1" : ""}\r\n`), piece, Buffer.from("\r\n"));
        }
        if (step.value !== "no-end") parts.push(Buffer.from(step.value === "huge" ? "fffffffffffff\r\n" : "0\r\n\r\n"));
        socket.end(Buffer.concat(parts));
        return;
      }
      case "head":
        socket.end(Buffer.concat([Buffer.from(step.value ?? ""), body]));
        return;
      case "drop":
        socket.write(Buffer.concat([Buffer.from(okHead()), body.subarray(0, Math.min(body.length, step.n ?? 100))]), () => socket.destroy());
        return;
      case "stall":
        socket.write(Buffer.concat([Buffer.from(okHead()), body.subarray(0, Math.min(body.length, step.n ?? 100))]));
        return;
      default:
        socket.end(Buffer.from(step.value ?? "", "latin1"));
    }
  }

  async close(): Promise<void> {
    this.end();
    await new Promise((r) => this.server.close(r));
  }
}

export class OtaUpdateTarget extends OtaTarget<UpdatePayload> implements FuzzTarget<UpdatePayload> {
  readonly name = "ota-update" as const;
  #server = new ScriptedServer();
  #index = 0;

  override async setup(board: FuzzBoard, ctx: GenContext): Promise<void> {
    await super.setup(board, ctx);
    await this.#server.listen();
  }

  generate(rng: Rng, ctx: GenContext): { generator: string; payload: UpdatePayload } {
    const serverSide = rng.chance(0.35);
    let pkg = mutatePackage(rng, this.fw, { allowCostly: false });
    if (serverSide) pkg = { base: "tiny", zip: rng.chance(0.5) ? this.fw.tiny.zip : this.fw.v2.zip, what: "valid package", costly: false };
    else if (pkg.costly && !rng.chance(0.2)) pkg = mutatePackage(rng, this.fw, { allowCostly: false });
    const serve: ServeStep[] = [];
    if (!serverSide) serve.push({ kind: "file" });
    else {
      const n = rng.range(1, 3);
      for (let i = 0; i < n; i++) {
        serve.push(
          rng.weighted<ServeStep>([
            [3, { kind: "file" }],
            [2, { kind: "status", value: rng.pick(["404", "500", "304", "206", "199", "600", "100", "204", "416", "abc"]) }],
            [3, { kind: "redirect", n: rng.pick([301, 302, 303, 307, 308]), value: rng.pick(["/{case}/fw.zip", "http://{server}/{case}/fw2.zip", "fw3.zip", "", "https://{server}/{case}/fw.zip", "http://127.0.0.1:1/x", "//{server}/{case}/x", "http://{server}/{case}/" + "a".repeat(3000), "\u00e9", "ftp://x/y"]) }],
            [3, { kind: "length", value: rng.pick(["none", "short", "long", "-1", "abc", "99999999999999", "0", "1, 2"]) }],
            [3, { kind: "chunked", n: rng.pick([1, 7, 512, 4096, 100000]), value: rng.pick(["ok", "ok", "bad-size", "no-end", "ext", "huge"]) }],
            [2, { kind: "head", value: rng.pick(["HTTP/1.1 200 OK\nContent-Length: 5\n\n", "HTTP/1.0 200 OK\r\n\r\n", `HTTP/1.1 200 OK\r\nX: ${"v".repeat(9000)}\r\n\r\n`, `HTTP/1.1 200 OK\r\n${"H: v\r\n".repeat(600)}\r\n`, "HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "HTTP/1.1 200 OK\r\n X: folded\r\n\r\n", "HTTP/2 200\r\n\r\n", "garbage\r\n\r\n"]) }],
            [3, { kind: "drop", n: rng.pick([0, 1, 30, 100, 1000, 50000]) }],
            [2, { kind: "stall", n: rng.pick([0, 50, 1000]) }],
            [1, { kind: "raw", value: rng.pick(["", "\r\n\r\n", "HTTP/1.1", "\u0000\u0000"]) }],
          ]),
        );
      }
    }
    // A body in chunks of a few bytes is a slow server, and costs the board
    // ~85 µs a chunk here: dripped, the 200 KB package would take most of a
    // minute, the tiny one a fraction of a second; what is tested is the same.
    if (serve.some((step) => step.kind === "chunked" && (step.n ?? 1000) < 64) && pkg.zip === this.fw.v2.zip) pkg = { ...pkg, zip: this.fw.tiny.zip };
    const url = rng.weighted([
      [92, "http://{server}/{case}/fw.zip"],
      [8, rng.pick(["http://127.0.0.1:1/fw.zip", "https://{server}/{case}/fw.zip", "ftp://{server}/x", "http://", "http://[::1]:1/x", "http://{server}/{case}/fw.zip#x", "http://u:p@{server}/{case}/fw.zip", "http://{server}/{case}/f w.zip", "http://127.0.0.1:99999/x", "http://{board}/rpc/Sys.GetInfo", "http://{board}/rpc", "HTTP://{server}/{case}/fw.zip", "http://{server}/{case}/" + "p".repeat(2000), "{server}/{case}/fw.zip", "http://{server}:80/x"])],
    ]);
    const params: Record<string, unknown> = {
      url: "URL",
      commit_timeout: rng.weighted([[6, 300], [3, 0], [1, rng.pick([1, 2 ** 31 - 1, "60"])]]),
      timeout: rng.weighted([[9, rng.range(1, 5)], [1, rng.pick([600, "3"])]]),
    };
    return {
      generator: `${serve.map((s) => `${s.kind}${s.value !== undefined ? `(${s.value.slice(0, 30)})` : ""}${s.n !== undefined ? `[${s.n}]` : ""}`).join(">")} ${url.slice(0, 60)}: ${pkg.what}`,
      payload: { what: pkg.what, zip: b64(pkg.zip), url, params: JSON.stringify(params), serve },
    };
  }

  async execute(payload: UpdatePayload): Promise<CaseResult> {
    const index = ++this.#index;
    const zip = unb64(payload.zip);
    this.#server.begin(index, zip, payload.serve);
    const url = payload.url.replace("{server}", `127.0.0.1:${this.#server.port}`).replace("{case}", `c${index}`).replace("{board}", `127.0.0.1:${this.ctx.httpPort}`);
    const params = JSON.parse(payload.params) as Record<string, unknown>;
    params.url = url;
    const counts: Record<string, number> = {};
    let outcome: { ok: boolean; error?: unknown } | undefined;
    const call = this.board.rpc.call("OTA.Update", params, { timeoutMs: 120_000 }).then(
      () => (outcome = { ok: true }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    // The download runs on sockets; its watchdog on the board's clock: move the clock while it waits.
    const started = Date.now();
    let advanced = 0;
    // Steps that reach the progress watchdog (timeout seconds) in a few turns, however long it is.
    const timeoutS = Number(params.timeout) || 600;
    const step = Math.max(1000, Math.ceil((timeoutS * 1000) / 4));
    const limitMs = (timeoutS + 5) * 1000 * 4;
    // A body in chunks of a few bytes keeps the board busy for seconds (a
    // 200 KB package in 1-byte chunks: about 17 s here), making progress all
    // along, which holds off the watchdog: no hang, a slow server.
    const dripping = payload.serve.some((step) => step.kind === "chunked" && (step.n ?? 1000) < 64);
    const realMs = dripping ? 90_000 : 10_000;
    while (!outcome && Date.now() - started < realMs && (advanced < limitMs || dripping) && this.board.board.isReady) {
      await Promise.race([call, sleep(150)]);
      if (outcome) break;
      await this.board.advance(step, step);
      advanced += step;
    }
    if (!outcome) await Promise.race([call, sleep(1000)]);
    counts.requests = this.#server.requests;
    this.#server.end();
    if (!outcome) {
      if (!this.board.board.isReady) return { note: "the board went down during OTA.Update", counts };
      return { note: "OTA.Update never answered", counts, fault: { kind: "hang", detail: `OTA.Update (timeout ${timeoutS} s) got no answer while the board's clock moved ${advanced / 1000} s` } };
    }
    const note = outcome.ok ? "applied" : describeError(outcome.error);
    if (!outcome.ok && outcome.error instanceof RemoteError) counts[`code${outcome.error.code}`] = 1;
    return this.after(zip, outcome.ok, undefined, note, counts);
  }

  override async teardown(): Promise<void> {
    await this.#server.close();
  }
}
