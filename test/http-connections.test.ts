// The HTTP channel's connections to the firmware's own HTTP server
// (spec/mos-rpc.md §2.3): keep-alive only when asked for, Connection: close
// otherwise, and more clients at once than the board has TCP control blocks:
// each gets its own replies, once the board has room for it (a client the
// board cannot take is refused at connect, and tries again).

import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { startBench, type Bench } from "./ota-rig.ts";

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw TCP connection that sends requests as written and reads responses by Content-Length. */
class RawHttp {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #wake: () => void = () => {};

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, c]);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  static connect(url: string): Promise<RawHttp> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => resolve(new RawHttp(socket)));
      socket.once("error", reject);
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  post(path: string, body: string, connection?: string): void {
    const headers = [`POST ${path} HTTP/1.1`, "Host: board", "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`];
    if (connection) headers.push(`Connection: ${connection}`);
    this.socket.write(`${headers.join("\r\n")}\r\n\r\n${body}`);
  }

  async response(): Promise<RawResponse> {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const [statusLine, ...lines] = this.#buffer.subarray(0, end).toString("latin1").split("\r\n");
        const headers: Record<string, string> = {};
        for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
        const length = Number(headers["content-length"]);
        if (this.#buffer.length >= end + 4 + length) {
          const body = this.#buffer.subarray(end + 4, end + 4 + length).toString("utf8");
          this.#buffer = this.#buffer.subarray(end + 4 + length);
          return { status: Number(statusLine!.split(" ")[1]), headers, body };
        }
      }
      if (this.#ended) throw new Error(`connection ended before a whole response: ${this.#buffer.toString()}`);
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  /** Resolves once the server has closed its side. */
  async closedByServer(): Promise<void> {
    while (!this.#ended) await new Promise<void>((r) => (this.#wake = r));
  }
}

const PING = (id: number) => `{"id":${id},"src":"raw","method":"RPC.Ping"}`;

describe("HTTP connections to the virtual board", function () {
  this.timeout(60_000);
  let bench: Bench;
  before(async () => (bench = await startBench()));
  after(() => bench.close());

  it("keeps a connection that asked for keep-alive open for a second request", async () => {
    const conn = await RawHttp.connect(bench.board.httpUrl);
    try {
      conn.post("/rpc", PING(1), "keep-alive");
      const first = await conn.response();
      assert.equal(first.status, 200);
      assert.equal(first.headers.connection, "keep-alive");
      assert.match(first.body, /^\{"id":1,"src":"esp32_[0-9A-F]{6}","dst":"raw","result":\{"channel_info":"127\.0\.0\.1"\}\}\r\n$/);
      assert.equal(Number(first.headers["content-length"]), Buffer.byteLength(first.body));
      conn.post("/rpc/OTA.GetBootState", "", "keep-alive");
      const second = await conn.response();
      assert.equal(second.status, 200);
      assert.equal(second.headers.connection, "keep-alive");
      assert.equal(second.body, '{"active_slot":0,"is_committed":true,"revert_slot":0,"commit_timeout":0}\r\n');
      assert.equal(conn.ended, false);
    } finally {
      conn.socket.destroy();
    }
  });

  it("closes the connection after the reply when the request says Connection: close, or nothing", async () => {
    for (const connection of ["close", undefined]) {
      const conn = await RawHttp.connect(bench.board.httpUrl);
      try {
        conn.post("/rpc", PING(2), connection);
        const reply = await conn.response();
        assert.equal(reply.status, 200);
        assert.equal(reply.headers.connection, "close", `request with Connection: ${connection}`);
        await conn.closedByServer();
      } finally {
        conn.socket.destroy();
      }
    }
  });

  it("gives 20 clients with the same ids each its own replies as it has room, whoever hangs up mid-call, and never panics", async () => {
    const once = (agent: http.Agent, c: number, id: number) =>
      new Promise<{ id: number; dst: string; tag: string }>((resolve, reject) => {
        const body = `{"id":${id},"src":"c${c}","tag":"c${c}-${id}","method":"RPC.Ping"}`;
        const req = http.request(bench.board.httpUrl, { method: "POST", agent, headers: { "Content-Type": "application/json" } }, (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve(JSON.parse(text)));
        });
        req.on("error", reject);
        req.end(body);
      });
    let refusals = 0;
    // A full board refuses at connect (its listener is closed): a client tries again, as mos does.
    const call = async (agent: http.Agent, c: number, id: number) => {
      for (;;) {
        try {
          return await once(agent, c, id);
        } catch (e) {
          if (!["ECONNREFUSED", "ECONNRESET"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
          refusals++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const agents = Array.from({ length: 20 }, () => new http.Agent({ keepAlive: true, maxSockets: 3 }));
    const quitter = await RawHttp.connect(bench.board.httpUrl);
    try {
      const calls = agents.map((agent, c) => Promise.all([1, 2, 3].map((id) => call(agent, c, id))));
      quitter.post("/rpc", PING(1));
      quitter.socket.destroy();
      const got = await Promise.all(calls);
      got.forEach((replies, c) =>
        replies.forEach((r, i) => {
          assert.equal(r.id, i + 1);
          assert.equal(r.dst, `c${c}`);
          assert.equal(r.tag, `c${c}-${i + 1}`);
        }),
      );
    } finally {
      for (const a of agents) a.destroy();
    }
    assert.ok(refusals > 0, "60 connections at once fit in 8 TCP pcbs?");
    assert.equal(bench.board.bootCount, 1);
    assert.ok(await bench.rpc.call("RPC.Ping"));
  });
});
