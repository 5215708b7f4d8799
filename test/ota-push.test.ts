// `xs-ota ota` (the push API mos ota uses) against the virtual board, over its
// UART and its HTTP port, including a lost OTA.Write reply and an abort.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { SerialPort } from "serialport";
import { MAX_CHUNK_SIZE } from "../host/cli/ota-command.ts";
import { RemoteError } from "../host/client/rpc-client.ts";
import { IMAGE_HASH_SIZE, parseAppImage } from "../host/fwpack/app-image.ts";
import { buildFwZip } from "../host/fwpack/fw-zip.ts";
import type { BootEnd } from "../host/vboard/supervisor.ts";
import { openPtyPair } from "./pty-pair.ts";
import { runCli } from "./run-cli.ts";
import { appInLayout, faultyImagePackage, startBench, testFirmware, type AppLayout, type Bench, type ImageFault } from "./ota-rig.ts";
import { rawZip } from "./zip-fixtures.ts";

const info = async (b: Bench) => (await b.rpc.call("Sys.GetInfo")) as { fw_version: string };
const bootState = (b: Bench) => b.rpc.call("OTA.GetBootState");
const V1_COMMITTED = { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 };

/** An HTTP proxy in front of the board that loses the reply to the Nth OTA.Write (1-based). */
async function lossyProxy(target: string, loseWrite: number) {
  const offsets: number[] = [];
  let writes = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const frame = JSON.parse(body.toString()) as { method: string; params?: { offset?: number } };
      const lose = frame.method === "OTA.Write" && ++writes === loseWrite;
      if (frame.method === "OTA.Write") offsets.push(frame.params!.offset!);
      const upstream = http.request(target, { method: "POST", headers: { "Content-Type": "application/json" } }, (up) => {
        const reply: Buffer[] = [];
        up.on("data", (c: Buffer) => reply.push(c));
        up.on("end", () => {
          // The device did the write; only its answer is lost on the way.
          if (lose) req.socket.destroy();
          else res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(reply));
        });
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`,
    offsets,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe("xs-ota ota (push) on the virtual board", function () {
  this.timeout(180_000);
  let bench: Bench;
  let v2zip: string;
  beforeEach(async () => {
    bench = await startBench();
    v2zip = path.join(bench.dir, "v2.zip");
    fs.writeFileSync(v2zip, (await testFirmware()).v2.zip);
  });
  afterEach(() => bench.close());

  async function rebootIntoUpdate(): Promise<void> {
    const booted = bench.nextBoot();
    await bench.board.advanceClock(200);
    await booted;
  }

  /** Push `zip` the way mos ota does; resolves with OTA.End's outcome. */
  async function push(zip: Buffer): Promise<unknown> {
    await bench.rpc.call("OTA.Begin", { size: zip.length });
    for (let offset = 0; offset < zip.length; offset += 2048) {
      await bench.rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + 2048).toString("base64") });
    }
    return bench.rpc.call("OTA.End");
  }

  it("updates over HTTP, pending with the commit timeout given", async () => {
    const r = await runCli(["--port", bench.board.httpUrl, "ota", v2zip, "--commit-timeout", "30"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /update applied: .* within 30 s/);
    await rebootIntoUpdate();
    assert.equal((await info(bench)).fw_version, "2.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: false, revert_slot: 0, commit_timeout: 30 });
  });

  it("refuses a package for another chip before sending anything (exit status 2)", async () => {
    const file = path.join(bench.dir, "esp32s3.zip");
    fs.writeFileSync(file, await faultyImagePackage("chip"));
    const before = [await bootState(bench), await bench.rpc.call("OTA.Status")];
    const r = await runCli(["--port", bench.board.httpUrl, "ota", file, "--commit-timeout", "0"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /esp32s3\.zip is built for chip id 9 \(ESP32-S3\), the device is 16982 \(virtual board\): nothing was sent \(--force sends it anyway\)\n/);
    assert.deepEqual([await bootState(bench), await bench.rpc.call("OTA.Status")], before);
    assert.deepEqual(before[0], V1_COMMITTED);
    assert.equal((await info(bench)).fw_version, "1.0.0");
  });

  it("updates over the UART with the largest chunk and three writes in flight", async () => {
    const r = await runCli(["--port", bench.board.uartPath, "ota", v2zip, "--commit-timeout", "0", "--chunk-size", String(MAX_CHUNK_SIZE), "--window", "3"]);
    assert.equal(r.code, 0, r.stderr);
    await rebootIntoUpdate();
    assert.equal((await info(bench)).fw_version, "2.0.0");
  });

  it("updates over the UART, speaking mos's framing and handshake", async () => {
    const r = await runCli(["--port", bench.board.uartPath, "ota", v2zip, "--commit-timeout", "0"]);
    assert.equal(r.code, 0, r.stderr);
    await rebootIntoUpdate();
    assert.equal((await info(bench)).fw_version, "2.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("retries a write whose reply was lost, at the same offset, without corrupting the image", async () => {
    const proxy = await lossyProxy(bench.board.httpUrl, 3);
    try {
      const r = await runCli(["--port", proxy.url, "--timeout", "3s", "ota", v2zip, "--commit-timeout", "0"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(proxy.offsets[2], proxy.offsets[3], `offsets ${proxy.offsets.slice(0, 5)}`);
      assert.equal(proxy.offsets[2], 1024);
    } finally {
      await proxy.close();
    }
    await rebootIntoUpdate();
    assert.equal((await info(bench)).fw_version, "2.0.0");
  });

  it("OTA.End mid-stream aborts, leaves v1 intact, and a new OTA.Begin works", async () => {
    const zip = (await testFirmware()).v2.zip;
    await bench.rpc.call("OTA.Begin", { size: zip.length, commit_timeout: 0 });
    for (let offset = 0; offset < 4096; offset += 512) {
      await bench.rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + 512).toString("base64") });
    }
    const status = (await bench.rpc.call("OTA.Status")) as { state: number; progress_percent: number };
    assert.equal(status.state, 1);
    assert.ok(status.progress_percent > 0 && status.progress_percent < 10, `progress ${status.progress_percent}`);
    await assert.rejects(bench.rpc.call("OTA.End"), (e: unknown) => e instanceof RemoteError && e.code === -3 && e.remoteMessage === "Update aborted");
    assert.deepEqual(await bench.rpc.call("OTA.Status"), { state: 2, message: "Update aborted", progress_percent: status.progress_percent, is_committed: true, commit_timeout: 0, partition: 0 });
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    const booted = bench.nextBoot();
    await bench.rpc.call("Sys.Reboot", { delay_ms: 0 });
    await bench.board.advanceClock(1);
    await booted;
    assert.equal((await info(bench)).fw_version, "1.0.0");
    assert.equal(await bench.rpc.call("OTA.Begin", { size: zip.length }), null);
    assert.equal(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 1);
  });

  it("refuses a write at the wrong offset, naming the expected one", async () => {
    const zip = (await testFirmware()).v2.zip;
    await bench.rpc.call("OTA.Begin", { size: zip.length });
    await bench.rpc.call("OTA.Write", { offset: 0, data: zip.subarray(0, 512).toString("base64") });
    await assert.rejects(
      bench.rpc.call("OTA.Write", { offset: 2048, data: zip.subarray(2048, 2560).toString("base64") }),
      (e: unknown) => e instanceof RemoteError && e.code === 400 && e.remoteMessage === "unexpected offset 2048, expected 512",
    );
  });

  it("refuses a corrupted package with Invalid CRC and keeps booting v1", async () => {
    const zip = Buffer.from((await testFirmware()).v2.zip);
    zip[zip.length - 2000] ^= 0x40;
    const bad = path.join(bench.dir, "bad.zip");
    fs.writeFileSync(bad, zip);
    const r = await runCli(["--port", bench.board.httpUrl, "ota", bad, "--force"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /write failed at offset \d+: remote error -23: Invalid CRC/);
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    assert.equal(((await bench.rpc.call("OTA.Status")) as { state: number }).state, 2);
  });

  /** v2's package with its app file in `layout`, the manifest's size and digests of that file, one of them changed when `wrong` names it. */
  async function layoutPackage(layout: AppLayout, wrong?: "sha1" | "sha256"): Promise<{ zip: Buffer; digests: Record<"sha1" | "sha256", string>; given: Record<"sha1" | "sha256", string> }> {
    const { manifest } = (await testFirmware()).v2;
    const app = await appInLayout(layout);
    const digests = { sha1: createHash("sha1").update(app).digest("hex"), sha256: createHash("sha256").update(app).digest("hex") };
    const given = { ...digests };
    if (wrong) given[wrong] = (given[wrong][0] === "0" ? "1" : "0") + given[wrong].slice(1);
    const part = { ...manifest.parts.app!, size: app.length, cs_sha1: given.sha1, cs_sha256: given.sha256 };
    const directory = `${manifest.name}-${manifest.version}`;
    const zip = rawZip([
      { name: `${directory}/manifest.json`, data: Buffer.from(JSON.stringify({ ...manifest, parts: { ...manifest.parts, app: part } })) },
      { name: `${directory}/${part.src}`, data: app },
    ]);
    return { zip, digests, given };
  }

  // As built, the digests are taken of the bytes as they are written, and
  // esp_ota_end's check of the appended SHA-256 vouches for the flash; in the
  // other layouts that check does not cover the file, and the slot is read
  // back, once for both digests.
  for (const layout of ["as built", "no appended SHA-256", "bytes after the image"] as const) {
    describe(`an app file (${layout})`, () => {
      for (const algorithm of ["sha1", "sha256"] as const) {
        it(`is checked against the manifest's ${algorithm}: a wrong one is -10 with both values, v1 stays`, async () => {
          const { zip, digests, given } = await layoutPackage(layout, algorithm);
          await assert.rejects(push(zip), (e: unknown) => {
            assert.ok(e instanceof RemoteError, String(e));
            assert.deepEqual([e.code, e.remoteMessage], [-10, `Digest mismatch: ${algorithm} of slot 1 is ${digests[algorithm]}, the manifest says ${given[algorithm]}`]);
            return true;
          });
          assert.deepEqual(await bootState(bench), V1_COMMITTED);
        });
      }

      it(`with the manifest's digests is applied and boots, the slot read ${layout === "as built" ? "twice (by ESP-IDF only)" : "three times"}`, async () => {
        const app = await appInLayout(layout);
        const before = await bench.board.flashStats();
        assert.equal(await push((await layoutPackage(layout)).zip), null);
        const after = await bench.board.flashStats();
        // esp_ota_end's and esp_ota_set_boot_partition's image checks, and the digests' read-back where it is needed.
        assert.equal(Math.round((after.read_bytes - before.read_bytes) / app.length), layout === "as built" ? 2 : 3);
        await rebootIntoUpdate();
        assert.equal((await info(bench)).fw_version, "2.0.0");
      });
    });
  }

  describe("when the target slot already holds the package's image (no rewrite)", () => {
    /** Where the central directory starts: every entry's data lies before it. */
    const centralDirectory = (zip: Buffer) => zip.readUInt32LE(zip.length - 22 + 16);

    beforeEach(async () => assert.deepEqual(await bench.rpc.call("OTA.CreateSnapshot"), { slot: 1 }));

    it("still checks the app's bytes: one flipped bit is refused, the boot state unchanged", async () => {
      const zip = Buffer.from((await testFirmware()).v1.zip);
      zip[Math.floor(centralDirectory(zip) / 2)] ^= 0x01;
      await assert.rejects(
        push(zip),
        (e: unknown) => e instanceof RemoteError && e.code === -10 && /xs-ota.bin differs from its manifest's digest at byte \d+/.test(e.remoteMessage),
      );
      assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
      assert.match(bench.console(), /already holds this image: checking the package against it/);
    });

    it("still reads the archive to its end: a package cut after the app data is not applied", async () => {
      const zip = (await testFirmware()).v1.zip;
      // OTA.End before the archive's end is mos's abort.
      await assert.rejects(push(zip.subarray(0, centralDirectory(zip))), (e: unknown) => e instanceof RemoteError && e.code === -3);
      assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    });

    it("takes the intact package without rewriting the slot", async () => {
      assert.equal(await push((await testFirmware()).v1.zip), null);
      assert.doesNotMatch(bench.console(), /update failed/);
    });
  });

  describe("refuses an invalid app image, saying what is wrong", () => {
    const byte = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;

    /** The code and message each fault of faultyImagePackage() is refused with: v2's own values against the changed ones. */
    async function refusal(fault: ImageFault): Promise<[number, string]> {
      const { app } = (await testFirmware()).v2;
      const hashed = parseAppImage(app).imageLength - IMAGE_HASH_SIZE;
      const sha256 = app.subarray(hashed, hashed + IMAGE_HASH_SIZE);
      switch (fault) {
        case "magic":
          return [-39, "Invalid app image: xs-ota.bin is not an ESP32 app image: first byte 0x12, expected 0xE9"];
        case "chip":
          return [-5, "Wrong platform: xs-ota.bin is built for chip id 9 (ESP32-S3), this board is 16982 (virtual board)"];
        case "checksum":
          return [-39, `Invalid app image: xs-ota.bin checksum ${byte(app[hashed - 1]! ^ 0xff)}, computed ${byte(app[hashed - 1]!)}`];
        case "sha256": {
          const appended = Buffer.from(sha256);
          appended[0]! ^= 0x01;
          const detail = `appended ${appended.toString("hex")}, computed ${sha256.toString("hex")}`;
          return [-10, `Digest mismatch: xs-ota.bin SHA-256 differs from the one appended to the image: ${detail}`];
        }
      }
    }

    for (const fault of ["magic", "chip", "checksum", "sha256"] as const) {
      it(`${fault}: the error names it, v1 keeps running with its boot state, and a good update follows`, async () => {
        const [code, message] = await refusal(fault);
        await assert.rejects(push(await faultyImagePackage(fault)), (e: unknown) => {
          assert.ok(e instanceof RemoteError, String(e));
          assert.deepEqual([e.code, e.remoteMessage], [code, message]);
          return true;
        });
        assert.deepEqual(await bootState(bench), V1_COMMITTED);
        const status = (await bench.rpc.call("OTA.Status")) as { state: number; message: string };
        assert.deepEqual([status.state, status.message], [2, message]);
        assert.equal((await info(bench)).fw_version, "1.0.0");
        assert.equal(await push((await testFirmware()).v2.zip), null);
        await rebootIntoUpdate();
        assert.equal((await info(bench)).fw_version, "2.0.0");
      });
    }

    it("a file that is no image, or one for another chip, is refused before the slot is erased", async () => {
      // A snapshot in slot 1 shows whether the refused updates touched the slot.
      assert.deepEqual(await bench.rpc.call("OTA.CreateSnapshot"), { slot: 1 });
      for (const fault of ["magic", "chip"] as const) {
        const file = path.join(bench.dir, `${fault}.zip`);
        fs.writeFileSync(file, await faultyImagePackage(fault));
        // --force: the CLI would refuse the package itself, as the device does.
        const r = await runCli(["--port", bench.board.httpUrl, "ota", file, "--force"]);
        assert.equal(r.code, 1);
        const [code, message] = await refusal(fault);
        assert.ok(r.stderr.includes(`remote error ${code}: ${message}`), r.stderr);
      }
      assert.equal(await bench.rpc.call("OTA.SetBootState", { revert_slot: 1 }), null);
    });
  });

  it("refuses an image larger than the slot before erasing anything", async () => {
    // A snapshot in slot 1 shows whether the refused update touched the slot.
    assert.deepEqual(await bench.rpc.call("OTA.CreateSnapshot"), { slot: 1 });
    const big = Buffer.alloc(0x180000 + 16, 0xe9);
    const { zip } = buildFwZip({
      name: "xs-ota",
      platform: "esp32",
      version: "9.9.9",
      buildId: "x/9.9.9",
      modified: new Date(0),
      files: [{ part: "app", src: "app.bin", data: big, attrs: { type: "app" } }],
    });
    const file = path.join(bench.dir, "big.zip");
    fs.writeFileSync(file, zip);
    const r = await runCli(["--port", bench.board.httpUrl, "ota", file, "--force", "--chunk-size", "2048"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /remote error -36: Image does not fit the slot/);
    // Slot 1 still holds a valid image: it can be named as the revert slot.
    assert.equal(await bench.rpc.call("OTA.SetBootState", { revert_slot: 1 }), null);
  });
});

describe("xs-ota ota pipelining writes faster than the board handles them", function () {
  this.timeout(120_000);

  it("leaves the board's run loop its turns: no task watchdog reset, even at 1 s", async () => {
    const bench = await startBench("real", { env: { VB_TASK_WDT_S: "1" } });
    const ends: BootEnd[] = [];
    bench.board.on("boot-end", (end) => ends.push(end));
    try {
      const file = path.join(bench.dir, "v2.zip");
      fs.writeFileSync(file, (await testFirmware()).v2.zip);
      // The pseudo-terminal is unpaced: the next frames are always waiting while the board handles one.
      const r = await runCli(["--port", bench.board.uartPath, "ota", file, "--commit-timeout", "0", "--chunk-size", String(MAX_CHUNK_SIZE), "--window", "3"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(ends.filter((end) => end.code === 6), []);
    } finally {
      await bench.close();
    }
  });
});

describe("xs-ota ota over a UART that loses a reply", function () {
  this.timeout(120_000);
  let bench: Bench;
  beforeEach(async () => (bench = await startBench()));
  afterEach(() => bench.close());

  /** Push v2 through a relay that loses the third write's reply; resolves with the offsets of the writes the board was sent. */
  async function pushLosingAReply(extraArgs: string[]): Promise<string[]> {
    const file = path.join(bench.dir, "v2.zip");
    fs.writeFileSync(file, (await testFirmware()).v2.zip);
    // The cable: CLI <-> pseudo-terminal pair <-> this relay <-> the board's UART.
    const cable = await openPtyPair();
    const board = new SerialPort({ path: bench.board.uartPath, baudRate: 115200 });
    const host = new SerialPort({ path: cable.device, baudRate: 115200 });
    const writes: string[] = [];
    let replies = 0;
    let pending = "";
    host.on("data", (chunk: Buffer) => {
      for (const m of chunk.toString("latin1").matchAll(/"method":"OTA\.Write","params":\{"offset":(\d+)/g)) writes.push(m[1]!);
      board.write(chunk);
    });
    board.on("data", (chunk: Buffer) => {
      pending += chunk.toString("latin1");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl + 1);
        pending = pending.slice(nl + 1);
        // Replies come in request order: Sys.GetInfo (the chip check), OTA.Status, OTA.Begin, then the writes; lose the third write's.
        if (/"(result|error)"/.test(line) && ++replies === 6) continue;
        host.write(Buffer.from(line, "latin1"));
      }
      if (pending.includes('"""\x04"""')) {
        host.write(Buffer.from(pending, "latin1"));
        pending = "";
      }
    });
    try {
      const r = await runCli(["--port", cable.host, "--timeout", "2s", "ota", file, "--commit-timeout", "0", ...extraArgs]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await new Promise((r) => host.close(() => r(undefined)));
      await new Promise((r) => board.close(() => r(undefined)));
      await cable.close();
    }
    const booted = bench.nextBoot();
    await bench.board.advanceClock(200);
    await booted;
    assert.equal((await info(bench)).fw_version, "2.0.0");
    return writes;
  }

  it("retries the write at the same offset after the timeout, and the update completes", async () => {
    assert.deepEqual((await pushLosingAReply([])).slice(0, 4), ["0", "512", "1024", "1024"]);
  });

  it("with two writes in flight, sends the lost one again with the one behind it, and the update completes", async () => {
    // The board took 1536 while 1024's reply was lost; both go again, and it answers both as done.
    assert.deepEqual((await pushLosingAReply(["--window", "2"])).slice(0, 7), ["0", "512", "1024", "1536", "1024", "1536", "2048"]);
  });
});
