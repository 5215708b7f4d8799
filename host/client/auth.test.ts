// The client's answers to digest challenges, against the firmware's own
// dispatcher and auth prehandler: in frames (any transport) and over HTTP
// (the firmware's HTTP channel behind a node:http server).

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { installAuth } from "rpc/auth";
import { ha1 } from "rpc/digest-auth";
import { Dispatcher, type ChannelInfo } from "rpc/dispatcher";
import { startHttpChannel } from "rpc/http-channel";
import type { HttpRequestHandler } from "platform/ports";
import { parseCredentials } from "./credentials.ts";
import { HttpTransport } from "./http-transport.ts";
import { AuthenticationError, RpcClient } from "./rpc-client.ts";
import type { FrameTransport } from "./transport.ts";

const NOW = 1_700_000_000;

function device(authAlgo = 0) {
  const clock = { now: NOW };
  const rpc = new Dispatcher(() => "esp32_ABCDEF");
  rpc.add("OTA.Commit", "", () => "committed");
  rpc.add("Sys.GetInfo", "", () => "info");
  const algorithm = authAlgo === 1 ? "SHA-256" : "MD5";
  const settings = { realm: "RPC", authAlgo, users: { admin: ha1(algorithm, "admin", "RPC", "s3cret:with:colons") }, acl: "" };
  const { guard } = installAuth(rpc, { settings: () => settings, nowSeconds: () => clock.now });
  return { rpc, clock, guard };
}

/** An MQTT-like channel: frames in, frames out, no channel credentials. */
class FrameLoopback implements FrameTransport {
  readonly description = "loopback";
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly sent: string[] = [];
  constructor(private readonly rpc: Dispatcher) {}
  async send(json: string): Promise<void> {
    this.sent.push(json);
    const channel: ChannelInfo = { type: "MQTT", info: "loopback" };
    this.rpc.handleText(json, channel, (reply) => setImmediate(() => this.onFrame(reply)));
  }
  async close(): Promise<void> {}
}

const creds = { username: "admin", password: "s3cret:with:colons" };

describe("client authentication", () => {
  it("parses --rpc-creds as user:pass or @file, the password being everything after the first colon", () => {
    assert.deepEqual(parseCredentials("admin:a:b"), { username: "admin", password: "a:b" });
    assert.deepEqual(parseCredentials("admin:"), { username: "admin", password: "" });
    assert.deepEqual(parseCredentials("@creds.txt", () => "ops:pw\n"), { username: "ops", password: "pw" });
    assert.throws(() => parseCredentials("admin"), /user:password/);
    assert.throws(() => parseCredentials(":pw"), /user:password/);
    assert.throws(() => parseCredentials("@/nonexistent/creds"), /cannot read credentials from \/nonexistent\/creds: ENOENT/);
  });

  it("answers a 401 in frames as mos does, then keeps answering the challenge without the extra round trip", async () => {
    for (const algo of [0, 1]) {
      const { rpc } = device(algo);
      const t = new FrameLoopback(rpc);
      const client = new RpcClient(t, { credentials: creds });
      assert.equal(await client.call("OTA.Commit"), "committed");
      assert.equal(t.sent.length, 2);
      assert.equal(JSON.parse(t.sent[0]!).auth, undefined);
      const auth = JSON.parse(t.sent[1]!).auth;
      assert.deepEqual(Object.keys(auth), ["realm", "username", "nonce", "cnonce", "algorithm", "response"]);
      assert.equal(auth.nonce, NOW);
      assert.ok(Number.isInteger(auth.cnonce) && auth.cnonce >= 0 && auth.cnonce < 2 ** 32);
      assert.equal(auth.algorithm, algo === 1 ? "SHA-256" : "MD5");
      assert.equal(await client.call("OTA.Commit"), "committed");
      assert.equal(t.sent.length, 3, "the known challenge is answered at once");
      assert.notEqual(JSON.parse(t.sent[2]!).auth.cnonce, auth.cnonce);
    }
  });

  it("gets a new challenge when the kept one went stale", async () => {
    const { rpc, clock } = device();
    const t = new FrameLoopback(rpc);
    const client = new RpcClient(t, { credentials: creds });
    await client.call("OTA.Commit");
    clock.now += 3600;
    assert.equal(await client.call("OTA.Commit"), "committed");
    assert.equal(t.sent.length, 4);
    assert.equal(JSON.parse(t.sent[3]!).auth.nonce, NOW + 3600);
  });

  it("says clearly what is wrong: no credentials, or wrong ones (tried once)", async () => {
    const { rpc } = device();
    const none = new RpcClient(new FrameLoopback(rpc));
    await assert.rejects(none.call("OTA.Commit"), (e: unknown) => {
      assert.ok(e instanceof AuthenticationError);
      assert.equal(e.code, 401);
      assert.equal(e.message, 'remote error 401: the device requires authentication (digest, realm "RPC"): pass --rpc-creds user:password or @file');
      return true;
    });
    const t = new FrameLoopback(rpc);
    const wrong = new RpcClient(t, { credentials: { username: "admin", password: "nope" } });
    await assert.rejects(wrong.call("OTA.Commit"), /authentication failed for realm "RPC": wrong user name or password/);
    assert.equal(t.sent.length, 2);
    assert.equal(await none.call("Sys.GetInfo"), "info", "open methods need nothing");
  });

  describe("over HTTP", () => {
    let server: http.Server;
    let url: URL;
    let seen: Array<{ authorization?: string; status: number }>;
    let dev: ReturnType<typeof device>;

    beforeEach(async () => {
      dev = device();
      seen = [];
      let handler: HttpRequestHandler = () => {};
      startHttpChannel(dev.rpc, (h) => (handler = h));
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const u = new URL(req.url ?? "/", "http://x");
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
          const body = Buffer.concat(chunks).toString("utf8");
          handler({ method: req.method ?? "GET", path: u.pathname, query: u.search.slice(1), headers, body }, (out) => {
            seen.push({ authorization: req.headers.authorization, status: out.status });
            res.writeHead(out.status, Object.fromEntries(out.headers));
            res.end(out.body);
          }, "127.0.0.1:1");
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`);
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it("answers HTTP 401 WWW-Authenticate with an Authorization header over POST and the path, once", async () => {
      const client = new RpcClient(new HttpTransport(url, creds));
      assert.equal(await client.call("OTA.Commit"), "committed");
      assert.deepEqual(seen.map((s) => s.status), [401, 200]);
      assert.equal(seen[0]!.authorization, undefined);
      assert.match(
        seen[1]!.authorization!,
        /^Digest username="admin", realm="RPC", uri="\/rpc", algorithm=MD5, nonce="6553f100", nc=00000001, cnonce="\d+", qop=auth, response="[0-9a-f]{32}"$/,
      );
      assert.equal(await client.call("OTA.Commit"), "committed");
      assert.deepEqual(seen.map((s) => s.status), [401, 200, 200], "later calls carry credentials from the start");
    });

    it("fails clearly without credentials and with wrong ones", async () => {
      await assert.rejects(new RpcClient(new HttpTransport(url)).call("OTA.Commit"), /the device requires authentication \(digest, realm "RPC"\)/);
      await assert.rejects(
        new RpcClient(new HttpTransport(url, { username: "admin", password: "x" })).call("OTA.Commit"),
        /authentication failed for realm "RPC"/,
      );
      assert.deepEqual(seen.map((s) => s.status), [401, 401, 401]);
    });
  });
});
