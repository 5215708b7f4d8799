// OTA.Update's download against servers that misbehave (spec/mos-rpc.md
// §7.26): redirects, dropped connections resumed with Range, servers that
// ignore Range or refuse it, 304, 404, nobody listening, and a stalled
// transfer that the progress watchdog ends; URLs and redirects it cannot use
// (https, ftp, bad ports, too long: fuzzing findings). Each failure leaves v1
// booting, and the board running.

import assert from "node:assert/strict";
import type http from "node:http";
import { RemoteError } from "../host/client/rpc-client.ts";
import { MAX_URL_LENGTH } from "../modules/net/http-url.ts";
import { faultyImagePackage, file, servePackages, startBench, testFirmware, type Bench, type PackageServer, type Serve } from "./ota-rig.ts";

const info = async (b: Bench) => ((await b.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version;

/** Send the first `cut` bytes of the body (with the full length announced), then drop the connection. */
function dropsAfter(bytes: Buffer, cut: number): Serve {
  return (_req, res) => {
    res.writeHead(200, { "Content-Length": bytes.length });
    res.write(bytes.subarray(0, cut), () => res.socket?.destroy());
  };
}

describe("OTA.Update downloads", function () {
  this.timeout(120_000);
  let bench: Bench;
  let server: PackageServer | undefined;
  let zip: Buffer;

  before(async () => (zip = (await testFirmware()).v2.zip));
  beforeEach(async () => (bench = await startBench()));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await bench.close();
  });

  async function updateFrom(routes: Record<string, Serve>, path: string): Promise<unknown> {
    server = await servePackages(routes);
    return bench.rpc.call("OTA.Update", { url: `${server.url}${path}`, commit_timeout: 0 });
  }

  async function expectApplied(result: Promise<unknown>): Promise<void> {
    assert.equal(await result, null);
    const booted = bench.nextBoot();
    await bench.board.advanceClock(200);
    await booted;
    assert.equal(await info(bench), "2.0.0");
  }

  async function expectRefused(result: Promise<unknown>, code: number, message: RegExp): Promise<void> {
    await assert.rejects(result, (e: unknown) => e instanceof RemoteError && e.code === code && message.test(e.remoteMessage));
    assert.deepEqual(await bench.rpc.call("OTA.GetBootState"), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    assert.equal(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 2);
  }

  it("follows a 302 and a relative 301", async () => {
    const redirect = (to: string, status = 302): Serve => (_req, res) => res.writeHead(status, { Location: to }).end();
    await expectApplied(updateFrom({ "/old": redirect("/moved/fw.zip"), "/moved/fw.zip": redirect("final.zip", 301), "/moved/final.zip": file(zip) }, "/old"));
    assert.deepEqual(server!.requests.map((r) => r.path), ["/old", "/moved/fw.zip", "/moved/final.zip"]);
  });

  it("resumes a dropped transfer with Range", async () => {
    let calls = 0;
    const flaky: Serve = (req, res) => (++calls === 1 ? dropsAfter(zip, 30_000)(req, res) : file(zip)(req, res));
    await expectApplied(updateFrom({ "/fw.zip": flaky }, "/fw.zip"));
    assert.deepEqual(server!.requests.map((r) => r.range), [undefined, "bytes=30000-"]);
  });

  it("starts over cleanly when the server ignores Range (200) or refuses it (416)", async () => {
    let calls = 0;
    const ignoresRange: Serve = (req, res) => (++calls === 1 ? dropsAfter(zip, 20_000)(req, res) : (res.writeHead(200, { "Content-Length": zip.length }), res.end(zip)));
    await expectApplied(updateFrom({ "/fw.zip": ignoresRange }, "/fw.zip"));
    await bench.close();
    bench = await startBench();
    await server!.close();
    calls = 0;
    const refusesRange: Serve = (req: http.IncomingMessage, res) => {
      ++calls;
      if (calls === 1) return dropsAfter(zip, 20_000)(req, res);
      if (req.headers.range) return void res.writeHead(416).end();
      file(zip)(req, res);
    };
    await expectApplied(updateFrom({ "/fw.zip": refusesRange }, "/fw.zip"));
    assert.deepEqual(server!.requests.map((r) => r.range), [undefined, "bytes=20000-", undefined]);
  });

  it("reports 304, 404 and a refused connection, and keeps v1", async () => {
    await expectRefused(updateFrom({ "/fw.zip": (_q, res) => res.writeHead(304).end() }, "/fw.zip"), -37, /^-37 Not Modified$/);
    await server!.close();
    await expectRefused(updateFrom({}, "/missing.zip"), -404, /^-404 Invalid HTTP response code: 404$/);
    await expectRefused(bench.rpc.call("OTA.Update", { url: "http://127.0.0.1:9/fw.zip" }), -38, /^-38 Failed to connect: cannot connect to 127\.0\.0\.1:9$/);
  });

  /** Answered, and the board still up: no reset (on a trial image it would revert), nothing left running, v1 in place. */
  async function expectRunning(what: string): Promise<void> {
    // Long enough for a reboot scheduled after the reply to come due.
    await bench.board.advanceClock(2_500);
    assert.equal(bench.board.bootCount, 1, `${what}: the board reset`);
    assert.notEqual(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 1, `${what}: an update is still in progress`);
    assert.equal(await info(bench), "1.0.0");
  }

  it("refuses a URL it cannot use before the update starts, with what is wrong (-38), and keeps running", async () => {
    server = await servePackages({ "/fw.zip": file(zip) });
    const host = server.url.slice("http://".length);
    const tooLong = `${server.url}/${"p".repeat(MAX_URL_LENGTH)}`;
    const cases: Array<[string, RegExp]> = [
      [`https://${host}/fw.zip`, /^-38 Failed to connect: https:\/\/\S+: https is not supported by this firmware \(no TLS certificates built in\); use http$/],
      [`ftp://${host}/fw.zip`, /^-38 Failed to connect: ftp:\/\/\S+: not an http:\/\/ URL$/],
      ["http://127.0.0.1:99999/fw.zip", /^-38 Failed to connect: http:\/\/127\.0\.0\.1:99999\/fw\.zip: bad port$/],
      [`${server.url}:80/fw.zip`, /: not an http:\/\/ URL$/],
      [tooLong, new RegExp(`^-38 Failed to connect: URL is too long: ${tooLong.length} characters, at most ${MAX_URL_LENGTH}$`)],
    ];
    for (const [url, message] of cases) {
      await assert.rejects(bench.rpc.call("OTA.Update", { url, commit_timeout: 0 }), (e: unknown) => e instanceof RemoteError && e.code === -38 && message.test(e.remoteMessage), url.slice(0, 60));
      assert.equal(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 0, "the update never started");
      await expectRunning(url.slice(0, 60));
    }
    assert.deepEqual(server.requests, []);
    assert.doesNotMatch(bench.console(), /update started/);
  });

  it(`takes a URL of ${MAX_URL_LENGTH} characters, the longest it fetches`, async () => {
    // The path depends on the server's port: the route is added once it listens.
    const routes: Record<string, Serve> = {};
    server = await servePackages(routes);
    const path = `/${"p".repeat(MAX_URL_LENGTH - server.url.length - 1)}`;
    routes[path] = file(zip);
    await expectApplied(bench.rpc.call("OTA.Update", { url: `${server.url}${path}`, commit_timeout: 0 }));
    assert.deepEqual(server.requests, [{ path, range: undefined }]);
  });

  it("refuses a redirect to a URL it cannot use (3,000 characters, https) and a 5,000-byte Location line (-38), and keeps running", async () => {
    const location = (to: (base: string) => string, status = 303): Serve => (req, res) => res.writeHead(status, { Location: to(`http://${req.headers.host}`) }).end();
    const long = (base: string) => `${base}/${"a".repeat(3000)}`;
    await expectRefused(updateFrom({ "/fw.zip": location(long) }, "/fw.zip"), -38, /^-38 Failed to connect: redirected to an unusable URL: URL is too long: \d{4} characters, at most 2048$/);
    assert.equal(server!.requests.length, 1);
    await expectRunning("a 3,000-character Location");
    await server!.close();
    await expectRefused(updateFrom({ "/fw.zip": location((base) => base.replace(/^http:/, "https:") + "/fw.zip", 302) }, "/fw.zip"), -38, /^-38 Failed to connect: redirected to an unusable URL: https:\/\/\S+: https is not supported/);
    await expectRunning("a redirect to https");
    await server!.close();
    await expectRefused(updateFrom({ "/fw.zip": location((base) => `${base}/${"a".repeat(5000)}`) }, "/fw.zip"), -38, /^-38 Failed to connect: response header line too long: \d{4} bytes, at most 4096$/);
    await expectRunning("a 5,000-byte Location line");
  });

  it("ends a download whose response head has 300 header lines, keeps running, and takes a good package next", async () => {
    const many: Serve = (_req, res) => {
      for (let i = 0; i < 300; i++) res.setHeader(`X-H${i}`, "v");
      res.writeHead(200, { "Content-Length": zip.length }).end(zip);
    };
    await expectRefused(updateFrom({ "/many.zip": many }, "/many.zip"), -38, /^-38 Failed to connect: more than 64 response header lines$/);
    await expectRunning("300 response header lines");
    await server!.close();
    await expectApplied(updateFrom({ "/fw.zip": file(zip) }, "/fw.zip"));
  });

  it("answers when the socket refuses to even try the connection (a 300-character host name)", async () => {
    const host = "h".repeat(300);
    await expectRefused(bench.rpc.call("OTA.Update", { url: `http://${host}/fw.zip`, commit_timeout: 0 }), -38, new RegExp(`^-38 Failed to connect: cannot connect to ${host}:80: `));
    await expectRunning("a 300-character host name");
    // The refusal reached the download as an error, not as a throw in a timer callback.
    assert.doesNotMatch(bench.console(), /E \(\d+\) http-get:/);
  });

  it("names what is wrong with an invalid app image, keeps v1, and takes a good package next", async () => {
    server = await servePackages({ "/s3.zip": file(await faultyImagePackage("chip")), "/sha.zip": file(await faultyImagePackage("sha256")), "/fw.zip": file(zip) });
    const update = (path: string) => bench.rpc.call("OTA.Update", { url: `${server!.url}${path}`, commit_timeout: 0 });
    await expectRefused(update("/s3.zip"), -5, /^-5 Wrong platform: xs-ota\.bin is built for chip id 9 \(ESP32-S3\), this board is 16982 \(virtual board\)$/);
    await expectRefused(update("/sha.zip"), -10, /^-10 Digest mismatch: xs-ota\.bin SHA-256 differs from the one appended to the image: appended [0-9a-f]{64}, computed [0-9a-f]{64}$/);
    await expectApplied(update("/fw.zip"));
  });

  it("gives up on a server that keeps dropping the connection", async () => {
    await expectRefused(updateFrom({ "/fw.zip": dropsAfter(zip, 10_000) }, "/fw.zip"), -14, /^-14 Not all data was processed: .*gave up after 5 resumes$/);
  });

  it("ends a stalled transfer with the progress watchdog, not a fixed total time", async () => {
    server = await servePackages({
      "/slow.zip": (_req, res) => {
        res.writeHead(200, { "Content-Length": zip.length });
        res.write(zip.subarray(0, 8_000)); // ...and then nothing more
      },
    });
    const result = bench.rpc.call("OTA.Update", { url: `${server.url}/slow.zip`, commit_timeout: 0, timeout: 60 }, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    // Progress so far keeps the watchdog quiet...
    await bench.board.advanceClock(59_000);
    assert.equal(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 1);
    // ...a minute without a byte ends it.
    await bench.board.advanceClock(2_000);
    await expectRefused(result, -13, /^-13 Update timed out: no data for 60 s$/);
  });
});
