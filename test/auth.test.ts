// RPC authentication and authorization on the virtual board (issue 5, items
// 3 and 4): credentials set over the UART (open: physical access) close the
// network to OTA.*, Sys.Reboot and Config.Set/Save; digest auth over HTTP
// headers and in frames, on HTTP, the UART and WebSocket; stale and replayed
// credentials; ACLs; and a configuration that survives reboots and power
// cuts. The clock is virtual, so "an hour later" is a test's decision.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { HttpTransport } from "../host/client/http-transport.ts";
import { SerialTransport } from "../host/client/serial-transport.ts";
import { AuthenticationError, RemoteError, RpcClient } from "../host/client/rpc-client.ts";
import type { Credentials } from "../host/client/credentials.ts";
import { answerFrameChallenge, ha1, parseDigestHeader, type FrameAuth } from "../modules/rpc/digest-auth.ts";
import { startEmbeddedBroker } from "../host/vboard/embedded-broker.ts";
import { startBench, testFirmware, type Bench } from "./ota-rig.ts";
import { runCli } from "./run-cli.ts";

const ADMIN: Credentials = { username: "admin", password: "correct horse" };
const HA1 = ha1("MD5", ADMIN.username, "RPC", ADMIN.password);
const WITH_ADMIN = { config: { rpc: { auth: { users: { admin: HA1 } } } }, save: true };

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One raw HTTP request: what a browser or curl sees. */
function request(url: string, method: string, body = "", headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { "Content-Type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const frame = (method: string, params?: unknown, auth?: unknown) => JSON.stringify({ id: 1, src: "t", method, params, auth });

/** Calls over the board's UART (the pseudo-terminal), as mos makes them. */
async function onUart<T>(bench: Bench, use: (client: RpcClient) => Promise<T>, credentials?: Credentials): Promise<T> {
  const client = new RpcClient(await SerialTransport.open({ path: bench.board.uartPath }), { timeoutMs: 10_000, credentials });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** The board's challenge, from an anonymous frame-mode call of a protected method over HTTP. */
async function challenge(bench: Bench): Promise<{ nonce: number; realm: string }> {
  const r = await request(bench.board.httpUrl, "POST", frame("OTA.GetBootState"));
  assert.equal(r.status, 401);
  const p = parseDigestHeader(String(r.headers["www-authenticate"]))!;
  return { nonce: parseInt(p.nonce!, 16), realm: p.realm! };
}

/** A frame `auth` answering a challenge with this nonce. */
const answer = (nonce: number, password = ADMIN.password, cnonce = Math.floor(Math.random() * 2 ** 32)): FrameAuth =>
  answerFrameChallenge({ auth_type: "digest", nonce, nc: 1, realm: "RPC", algorithm: "MD5" }, ADMIN.username, password, cnonce);

describe("RPC auth on the virtual board", function () {
  this.timeout(120_000);
  let bench: Bench;
  beforeEach(async () => (bench = await startBench()));
  afterEach(() => bench.close());

  it("a board without credentials is open; credentials set over the UART close protected methods on HTTP with an HTTP 401", async () => {
    assert.notEqual((await request(bench.board.httpUrl + "/OTA.GetBootState", "POST")).status, 401);
    assert.deepEqual(await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN)), { saved: true });

    for (const [url, body] of [
      [bench.board.httpUrl, frame("OTA.Commit")],
      [bench.board.httpUrl + "/", frame("Sys.Reboot")],
      [bench.board.httpUrl + "/Config.Set", '{"config":{"rpc":{"auth":{"users":{}}}}}'],
      [bench.board.httpUrl + "/OTA.Commit", ""],
    ] as const) {
      const r = await request(url, "POST", body);
      assert.equal(r.status, 401, `${url} ${body}`);
      assert.match(String(r.headers["www-authenticate"]), /^Digest qop="auth", realm="RPC", nonce="[0-9a-f]{8}", algorithm=MD5$/);
      assert.equal(r.headers["content-length"], "0");
      assert.equal(r.headers["connection"], "close");
      assert.equal(r.body, "");
    }
    // The nonce is the board's time: the host's at boot plus the board's (virtual) uptime.
    const { nonce } = await challenge(bench);
    assert.ok(Math.abs(nonce - Date.now() / 1000) < 120, `nonce ${nonce}`);

    // The rest stays open; the HA1 never shows.
    assert.equal((await request(bench.board.httpUrl + "/Sys.GetInfo", "GET")).status, 200);
    const users = await request(bench.board.httpUrl + '/Config.Get?key="rpc.auth.users"', "GET");
    assert.equal(users.body, '{"admin":"(hidden)"}\r\n');
    // The UART (physical access) stays open.
    assert.equal(((await onUart(bench, (c) => c.call("OTA.GetBootState"))) as { active_slot: number }).active_slot, 0);
  });

  it("curl --digest gets through (another client's digest: hex cnonce, the REST path and query as uri)", async function () {
    await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
    const curl = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve, reject) =>
        execFile("curl", ["-s", "-w", "\n%{http_code}", ...args], (e, out) => {
          if (e && (e as NodeJS.ErrnoException).code === "ENOENT") reject(e);
          else resolve({ code: Number(out.slice(out.lastIndexOf("\n") + 1)), out: out.slice(0, out.lastIndexOf("\n")) });
        }),
      );
    let r: { code: number; out: string };
    try {
      r = await curl(["--digest", "-u", "admin:correct horse", "-X", "POST", `${bench.board.httpUrl}/OTA.GetBootState`]);
    } catch {
      this.skip(); // no curl here; node:http covers the same exchanges above
    }
    assert.equal(r.code, 200, r.out);
    assert.equal(JSON.parse(r.out).active_slot, 0);
    const query = await curl(["--digest", "-u", "admin:correct horse", `${bench.board.httpUrl}/Config.Set?config=${encodeURIComponent('{"rpc":{"auth_domain":"RPC"}}')}`]);
    assert.equal(query.code, 200, query.out);
    assert.equal((await curl(["--digest", "-u", "admin:wrong", "-X", "POST", `${bench.board.httpUrl}/OTA.GetBootState`])).code, 401);
  });

  it("xs-ota over HTTP: a clear error without credentials, the call with --rpc-creds (or @file), a refusal with wrong ones", async () => {
    await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
    const port = ["--port", bench.board.httpUrl];

    const anonymous = await runCli([...port, "call", "OTA.GetBootState"]);
    assert.equal(anonymous.code, 1);
    assert.equal(anonymous.stderr, 'remote error 401: the device requires authentication (digest, realm "RPC"): pass --rpc-creds user:password or @file\n');

    const allowed = await runCli([...port, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(JSON.parse(allowed.stdout).active_slot, 0);
    // The handler ran: nothing to commit is OTA's own answer, not auth's.
    const commit = await runCli([...port, "--rpc-creds", "admin:correct horse", "call", "OTA.Commit"]);
    assert.equal(commit.code, 1);
    assert.match(commit.stderr, /^remote error -1/);

    const file = path.join(bench.dir, "creds");
    fs.writeFileSync(file, "admin:correct horse\n", { mode: 0o600 });
    const fromFile = await runCli([...port, "--rpc-creds", `@${file}`, "call", "Config.Set", '{"config":{"rpc":{"auth_domain":"RPC"}}}']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual(JSON.parse(fromFile.stdout), { saved: false });

    const wrong = await runCli([...port, "--rpc-creds", "admin:battery staple", "call", "Sys.Reboot"]);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, 'remote error 401: authentication failed for realm "RPC": wrong user name or password\n');
    assert.equal(bench.board.bootCount, 1, "nothing rebooted");

    const missing = await runCli([...port, "--rpc-creds", "@/nonexistent", "call", "Sys.Reboot"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read credentials from \/nonexistent/);
  });

  it("frame-level auth over the UART when an ACL closes the UART, and over WebSocket", async () => {
    const acl = JSON.stringify([
      { method: "OTA.*,Sys.Reboot,Config.Set,Config.Save", acl: "+admin" },
      { method: "*", acl: "*" },
    ]);
    await onUart(bench, (c) => c.call("Config.Set", { config: { rpc: { acl, auth: { users: { admin: HA1 } } } } }));

    await onUart(bench, async (c) => {
      await assert.rejects(c.call("OTA.GetBootState"), (e: unknown) => e instanceof AuthenticationError && !e.refused);
      assert.equal(((await c.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "1.0.0");
    });
    await onUart(bench, async (c) => assert.equal(((await c.call("OTA.GetBootState")) as { active_slot: number }).active_slot, 0), ADMIN);

    const uart = await runCli(["--port", bench.board.uartPath, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(uart.code, 0, uart.stderr);
    const ws = bench.board.httpUrl.replace(/^http:/, "ws:");
    const wsAnonymous = await runCli(["--port", ws, "call", "OTA.GetBootState"]);
    assert.equal(wsAnonymous.code, 1);
    assert.match(wsAnonymous.stderr, /requires authentication/);
    const wsAllowed = await runCli(["--port", ws, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(wsAllowed.code, 0, wsAllowed.stderr);
  });

  it("xs-ota ota over HTTP: refused without credentials, pushed with --rpc-creds (every OTA.Write authenticated)", async () => {
    await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
    const zip = path.join(bench.dir, "v2.zip");
    fs.writeFileSync(zip, (await testFirmware()).v2.zip);
    const refused = await runCli(["--port", bench.board.httpUrl, "ota", zip]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /requires authentication/);
    const r = await runCli(["--port", bench.board.httpUrl, "--rpc-creds", "admin:correct horse", "ota", zip, "--commit-timeout", "0"]);
    assert.equal(r.code, 0, r.stderr);
    const booted = bench.nextBoot();
    await bench.board.advanceClock(200);
    await booted;
    assert.equal(((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "2.0.0");
    assert.deepEqual(await bench.rpc.call("Config.Get", { key: "rpc.auth.users" }), { admin: "(hidden)" }, "the config outlives the update");
  });

  it("SHA-256 digests (rpc.auth_algo 1): over HTTP headers and in frames", async () => {
    const sha = ha1("SHA-256", ADMIN.username, "RPC", ADMIN.password);
    await onUart(bench, (c) => c.call("Config.Set", { config: { rpc: { auth_algo: 1, auth: { users: { admin: sha } } } } }));
    const r = await request(bench.board.httpUrl, "POST", frame("OTA.Commit"));
    assert.match(String(r.headers["www-authenticate"]), /algorithm=SHA-256$/);
    const http = await runCli(["--port", bench.board.httpUrl, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(http.code, 0, http.stderr);
    const ws = await runCli(["--port", bench.board.httpUrl.replace(/^http:/, "ws:"), "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(ws.code, 0, ws.stderr);
  });

  it("refuses wrong passwords, stale and future nonces and replays (401), partial credentials (400), and follows ACL denials (403)", async () => {
    await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
    const url = bench.board.httpUrl;
    const { nonce } = await challenge(bench);
    const call = async (auth: unknown, method = "OTA.GetBootState") => {
      const r = await request(url, "POST", frame(method, undefined, auth));
      return r.status === 401 ? 401 : (JSON.parse(r.body) as { result?: unknown; error?: { code: number; message: string } });
    };

    assert.equal(await call(answer(nonce, "wrong")), 401);
    assert.equal(await call(answer(nonce - 3601)), 401, "a forged nonce over an hour old");
    assert.equal(await call(answer(nonce + 600)), 401, "a nonce from the future");
    for (const key of ["realm", "username", "nonce", "cnonce", "response"]) {
      const partial: Record<string, unknown> = { ...answer(nonce) };
      delete partial[key];
      assert.deepEqual(((await call(partial)) as { error?: unknown }).error, { code: 400, message: "bad request" }, key);
    }

    const good = answer(nonce);
    assert.equal(((await call(good)) as { result: { active_slot: number } }).result.active_slot, 0);
    assert.equal(await call(good), 401, "the same auth again is a replay");
    const unused = answer(nonce);
    // An hour later the nonce is stale: unused or replayed, the auth is refused; a fresh challenge works.
    await bench.board.advanceClock(3_600_000);
    assert.equal(await call(unused), 401);
    assert.equal(await call(good), 401);
    const fresh = await challenge(bench);
    assert.ok(fresh.nonce >= nonce + 3600, `${fresh.nonce} vs ${nonce}`);
    assert.equal(((await call(answer(fresh.nonce))) as { result: unknown }).result !== undefined, true);

    // An ACL: Sys.Reboot closed to everybody, GetInfo open, nothing else listed (denied).
    const acl = JSON.stringify([
      { method: "Sys.GetInfo,Config.*", acl: "*" },
      { method: "Sys.Reboot", acl: "-*" },
      { method: "OTA.GetBootState", acl: "+nobody" },
    ]);
    await onUart(bench, (c) => c.call("Config.Set", { config: { rpc: { acl } } }));
    const denied = await request(url + "/Sys.Reboot", "POST");
    assert.equal(denied.status, 403);
    assert.equal(denied.body, '{"code":403,"message":"unauthorized"}\r\n');
    assert.deepEqual(((await call(answer(fresh.nonce))) as { error: unknown }).error, { code: 403, message: "unauthorized" }, "admin is not listed");
    assert.equal((await request(url + "/OTA.Commit", "POST")).status, 403, "no entry: denied");
    assert.equal((await request(url + "/Sys.GetInfo", "GET")).status, 200);
    await onUart(bench, (c) => assert.rejects(c.call("Sys.Reboot"), (e: unknown) => e instanceof RemoteError && e.code === 403));
  });

  it("the configuration survives Sys.Reboot; what was not saved does not", async () => {
    await onUart(bench, async (c) => {
      await c.call("Config.Set", WITH_ADMIN);
      await c.call("Config.Set", { config: { rpc: { auth_domain: "unsaved" } } });
    });
    const booted = bench.nextBoot();
    await onUart(bench, (c) => c.call("Sys.Reboot", { delay_ms: 0 }));
    await bench.board.advanceClock(10);
    await booted;
    assert.equal(bench.board.bootCount, 2);
    assert.equal(await bench.rpc.call("Config.Get", { key: "rpc.auth_domain" }), "RPC");
    assert.deepEqual(await bench.rpc.call("Config.Get", { key: "rpc.auth.users" }), { admin: "(hidden)" });
    assert.equal((await request(bench.board.httpUrl + "/OTA.Commit", "POST")).status, 401);
    const allowed = await runCli(["--port", bench.board.httpUrl, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it("mos config-set over HTTP with credentials: {config, save, reboot} saves, reboots, and the board comes back with it", async () => {
    await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
    const client = new RpcClient(new HttpTransport(new URL(bench.board.httpUrl), ADMIN), { credentials: ADMIN });
    try {
      const booted = bench.nextBoot();
      assert.deepEqual(await client.call("Config.Set", { config: { rpc: { auth_domain: "RPC", acl: '[{"method":"*","acl":"*"}]' } }, save: true, reboot: true }), {
        saved: true,
      });
      // The reboot comes 500 ms later; in its last 100 ms calls are refused with 418.
      await bench.board.advanceClock(450);
      await assert.rejects(client.call("Sys.GetInfo"), (e: unknown) => e instanceof RemoteError && e.code === 418);
      await bench.board.advanceClock(100);
      await booted;
      assert.equal(await bench.rpc.call("Config.Get", { key: "rpc.acl" }), '[{"method":"*","acl":"*"}]');
      assert.notEqual((await request(bench.board.httpUrl + "/OTA.GetBootState", "POST")).status, 401, "the ACL now opens everything");
    } finally {
      await client.close();
    }
  });
});

describe("config saved through a power cut", function () {
  this.timeout(300_000);

  // About 2.5 KB saved: one record per NVS page, so saves open pages and compact them too.
  const users: Record<string, string> = { admin: HA1 };
  for (let i = 0; i < 30; i++) users[`user${i}`] = ha1("MD5", `user${i}`, "RPC", `pw${i}`);
  const acl = JSON.stringify([
    { method: "*", ch_type: "UART", acl: "*" },
    { method: "Config.Get,Sys.GetInfo", acl: "*" },
    ...Array.from({ length: 20 }, (_, i) => ({ method: `Custom.Method${i}`, acl: `+user${i}` })),
  ]);
  const config = (domain: string) => ({ config: { rpc: { auth_domain: domain, acl, auth: { users } } }, save: true });

  for (const torn of [false, true]) {
    it(`is the old one or the new one, whatever flash operation is cut${torn ? " (torn writes)" : ""}`, async () => {
      const bench = await startBench("virtual");
      const outcomes: string[] = [];
      try {
        for (let n = 1; n <= 10; n++) {
          await onUart(bench, (c) => c.call("Config.Set", config("old")));
          let cut = false;
          const onEnd = (end: { code: number | null }) => (cut ||= end.code === 4);
          bench.board.on("boot-end", onEnd);
          await bench.board.reset({ powerCutAt: n, powerCutTorn: torn });
          await bench.board.waitReady().catch(() => undefined);
          await bench.board.waitReady();
          const reply = await onUart(bench, (c) => c.call("Config.Set", config("new"), { timeoutMs: 3_000 })).catch((e: Error) => e.message);
          await bench.board.waitReady();
          bench.board.off("boot-end", onEnd);
          // A cut that did not come yet is still armed: a plain reset disarms it, and reads the saved config afresh.
          await bench.board.reset();
          await bench.board.waitReady();
          const saved = (await bench.rpc.call("Config.Get", { key: "rpc" })) as { auth_domain: string; acl: string; auth: { users: object } };
          assert.ok(saved.auth_domain === "old" || saved.auth_domain === "new", `n=${n}: ${saved.auth_domain}`);
          assert.equal(saved.acl, acl, `n=${n}`);
          assert.equal(Object.keys(saved.auth.users).length, 31, `n=${n}`);
          if (!cut) assert.deepEqual(reply, { saved: true }, `n=${n}`);
          if (!cut) assert.equal(saved.auth_domain, "new", `n=${n}: with no cut the save went through`);
          outcomes.push(`${n}:${cut ? "cut" : "whole"}/${saved.auth_domain}`);
        }
      } finally {
        await bench.close();
      }
      assert.ok(outcomes.some((o) => o.includes("cut/")), outcomes.join(" "));
      process.stdout.write(`      power cut points: ${outcomes.join(" ")}\n`);
    });
  }
});

describe("RPC auth over MQTT", function () {
  this.timeout(60_000);
  it("answers a 401 in frames: a clear error without credentials, the call with them", async () => {
    const broker = await startEmbeddedBroker();
    const bench = await startBench("virtual", { mqttUrl: broker.url });
    try {
      await onUart(bench, (c) => c.call("Config.Set", WITH_ADMIN));
      const port = `${broker.url}/${(await bench.board.waitReady()).deviceId}`;
      const anonymous = await runCli(["--port", port, "call", "Sys.Reboot"]);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /^remote error 401: the device requires authentication \(digest, realm "RPC"\)/);
      const allowed = await runCli(["--port", port, "--rpc-creds", "admin:correct horse", "call", "OTA.GetBootState"]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(JSON.parse(allowed.stdout).is_committed, true);
      const open = await runCli(["--port", port, "call", "Sys.GetInfo"]);
      assert.equal(open.code, 0, open.stderr);
    } finally {
      await bench.close();
      await broker.close();
    }
  });
});
