// Network faults under the firmware's own network code: the virtual board's
// link shaper (host/vboard/xs/README.md, "Network faults") resets, stalls,
// slows and drops the board's TCP connections, and the firmware's download
// and MQTT handling must cope as on a flaky Wi-Fi link.

import assert from "node:assert/strict";
import { RemoteError } from "../host/client/rpc-client.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "../host/vboard/embedded-broker.ts";
import { file, servePackages, startBench, testFirmware, type Bench, type PackageServer } from "./ota-rig.ts";

const serverPort = (server: PackageServer) => Number(new URL(server.url).port);

/** Resolves when `done()` holds, polling; fails after `ms` saying what was awaited. */
async function until(done: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the firmware's downloads on a faulty network", function () {
  this.timeout(120_000);
  let bench: Bench;
  let server: PackageServer;
  let zip: Buffer;

  before(async () => (zip = (await testFirmware()).v2.zip));
  beforeEach(async () => {
    bench = await startBench();
    server = await servePackages({ "/fw.zip": file(zip) });
  });
  afterEach(async () => {
    await server.close();
    await bench.close();
  });

  const update = () => bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 60_000 });
  const status = async () => (await bench.rpc.call("OTA.Status")) as { state: number; progress_percent?: number };

  it("resumes with Range after the network resets the connection mid-body", async () => {
    // Slow enough to be cut in the middle.
    await bench.board.network({ op: "shape", port: serverPort(server), bytes_per_s: 40_000 });
    const result = update();
    await until(() => server.requests.length === 1, "the first request");
    await new Promise((r) => setTimeout(r, 1000));
    const { matched } = await bench.board.network({ op: "reset", port: serverPort(server) });
    assert.equal(matched, 1);
    await bench.board.network({ op: "shape", port: serverPort(server), bytes_per_s: 0 });
    assert.equal(await result, null);
    const [first, second] = server.requests;
    assert.equal(first!.range, undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(second?.range ?? "")?.[1]);
    assert.ok(from > 10_000 && from < zip.length, `resumed at ${second?.range}`);
    assert.match(bench.console(), /ota: download interrupted .*resuming at \d+/i);
  });

  it("ends a stalled link with the progress watchdog, and the board keeps running v1", async () => {
    const result = bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0, timeout: 30 }, { timeoutMs: 60_000 });
    await bench.board.network({ op: "shape", port: serverPort(server), bytes_per_s: 20_000 });
    await until(() => server.requests.length === 1, "the request");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await bench.board.network({ op: "stall", port: serverPort(server) })).matched, 1);
    await bench.board.advanceClock(31_000);
    await assert.rejects(result, (e: unknown) => e instanceof RemoteError && e.code === -13 && /no data for 30 s/.test(e.remoteMessage));
    assert.deepEqual(await bench.rpc.call("OTA.GetBootState"), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    assert.equal(bench.board.bootCount, 1);
  });

  it("takes as long as a capped link needs, and no less", async () => {
    const rate = 60_000;
    await bench.board.network({ op: "shape", port: serverPort(server), bytes_per_s: rate });
    const started = Date.now();
    assert.equal(await update(), null);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds >= (0.8 * zip.length) / rate, `${zip.length} bytes at ${rate} B/s in ${seconds} s`);
  });
});

describe("the firmware's MQTT session on a faulty network", function () {
  this.timeout(60_000);
  let broker: EmbeddedBroker;
  let bench: Bench;

  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());
  beforeEach(async () => (bench = await startBench("virtual", { mqttUrl: broker.url })));
  afterEach(() => bench.close());

  it("hears a dropped broker connection and comes back on its own back-off", async () => {
    const mark = bench.console().length;
    assert.equal((await bench.board.network({ op: "drop", port: broker.port })).matched, 1);
    await until(() => /mqtt: lost 127\.0\.0\.1:\d+; trying again in \d+ ms/.test(bench.console().slice(mark)), "the loss");
    const wait = Number(/trying again in (\d+) ms/.exec(bench.console().slice(mark))![1]);
    assert.ok(wait >= 500 && wait <= 1000, `first wait ${wait} ms`);
    await bench.board.advanceClock(wait);
    await until(() => bench.console().slice(mark).includes("mqtt: subscribed to "), "the new subscriptions");
    assert.equal(bench.board.bootCount, 1);
  });
});
