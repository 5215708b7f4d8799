// The conformance list of spec/mos-rpc.md §7 that applies to this firmware,
// run against whatever board the rig gave this run (make hil: the virtual
// board; make hil BOARD=<id>: a real one). Titles carry the §7 numbers.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { openPort } from "../host/client/open-port.ts";
import { RemoteError, RpcClient, TimeoutError } from "../host/client/rpc-client.ts";
import { buildFwZip } from "../host/fwpack/fw-zip.ts";
import { dut, firmware } from "./setup.ts";

interface BootState {
  active_slot: number;
  is_committed: boolean;
  revert_slot: number;
  commit_timeout: number;
}

const COMMITTED_0: BootState = { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 };

const bootState = () => dut().rpc("OTA.GetBootState") as Promise<BootState>;
const version = async () => ((await dut().rpc("Sys.GetInfo")) as { fw_version: string }).fw_version;

async function remoteError(p: Promise<unknown>, code: number, message?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RemoteError, String(e));
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.equal(e.remoteMessage, message);
    return true;
  });
}

/** Skip a test that cannot run on this board, saying why. */
function skipBecause(ctx: Mocha.Context, reason: string): void {
  process.stdout.write(`      skipped on ${dut().board.id}: ${reason}\n`);
  ctx.skip();
}

/** Back to the base firmware, committed, in slot 0, before a test that changes the boot state. */
async function baseline(): Promise<void> {
  const state = await bootState();
  if (JSON.stringify(state) === JSON.stringify(COMMITTED_0) && (await version()) === firmware().base.manifest.version) return;
  await dut().flash(firmware().base.app);
}

/** Reboot the firmware asked for by itself (after an update, a revert, Sys.Reboot). */
async function afterReboot(): Promise<void> {
  await dut().pass(200);
  await dut().waitUp();
}

/** mos ota's sequence over the UART, without the reboot wait. */
async function push(zip: Buffer, commitTimeout: number): Promise<void> {
  assert.ok([0, 2, 3].includes(((await dut().rpc("OTA.Status")) as { state: number }).state));
  await dut().rpc("OTA.Begin", { size: zip.length, commit_timeout: commitTimeout });
  for (let offset = 0; offset < zip.length; offset += 1024) {
    await dut().rpc("OTA.Write", { offset, data: zip.subarray(offset, offset + 1024).toString("base64") });
  }
  await dut().rpc("OTA.End");
}

describe("conformance (spec/mos-rpc.md §7)", () => {
  describe("RPC basics", () => {
    it("7.10 ids and errors: unknown method 404 No handler for X", async () => {
      await remoteError(dut().rpc("No.Such"), 404, "No handler for No.Such");
      assert.deepEqual(await dut().rpc("RPC.Ping"), { channel_info: "UART0" });
    });

    it("7.29 RPC.List has the OTA and Sys methods; RPC.Describe and Sys.GetInfo answer", async () => {
      const list = (await dut().rpc("RPC.List")) as string[];
      for (const m of ["OTA.Update", "OTA.Commit", "OTA.Revert", "OTA.CreateSnapshot", "OTA.GetBootState", "OTA.SetBootState", "OTA.Status", "OTA.Begin", "OTA.Write", "OTA.End", "Sys.GetInfo", "Sys.Reboot"]) {
        assert.ok(list.includes(m), m);
      }
      assert.deepEqual(await dut().rpc("RPC.Describe", { name: "OTA.Update" }), { name: "OTA.Update", args_fmt: "{url: %T, commit_timeout: %d}" });
      const info = (await dut().rpc("Sys.GetInfo")) as Record<string, unknown>;
      assert.equal(info.arch, "esp32");
      for (const k of ["id", "app", "fw_version", "fw_id", "mac"]) assert.equal(typeof info[k], "string", k);
      for (const k of ["uptime", "ram_size", "ram_free", "ram_min_free"]) assert.equal(typeof info[k], "number", k);
    });

    it("7.12 calls within 100 ms of a reboot get 418", async function () {
      if (dut().board.target !== "virtual") return skipBecause(this, "only a virtual clock holds the 100 ms window open");
      await dut().rpc("Sys.Reboot", { delay_ms: 50 });
      await remoteError(dut().rpc("RPC.Ping"), 418, "shutting down in 50 ms");
      await afterReboot();
    });
  });

  describe("boot state", () => {
    beforeEach(baseline);

    it("7.13 a freshly flashed board is committed in slot 0", async () => {
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.14 Commit and Revert when committed: error -1 and no reboot", async () => {
      await remoteError(dut().rpc("OTA.Commit"), -1);
      await remoteError(dut().rpc("OTA.Revert"), -1);
      await dut().pass(500);
      assert.deepEqual(await bootState(), COMMITTED_0);
      assert.doesNotMatch(dut().console(), /rst:/);
    });

    it("7.15 SetBootState: nothing given -2, a bad slot -3, nothing changed", async () => {
      await remoteError(dut().rpc("OTA.SetBootState", {}), -2);
      await remoteError(dut().rpc("OTA.SetBootState", { active_slot: 5 }), -3);
      await remoteError(dut().rpc("OTA.SetBootState", { active_slot: 1 }), -3);
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.16 OTA.Update without a url: -1 Malformed request", async () => {
      await remoteError(dut().rpc("OTA.Update", {}), -1, "Malformed request");
      await remoteError(dut().rpc("OTA.Update", { url: 1 }), -1, "Malformed request");
    });

    it("7.22 CreateSnapshot: {slot: 1}, the boot state unchanged", async () => {
      assert.deepEqual(await dut().rpc("OTA.CreateSnapshot"), { slot: 1 });
      assert.deepEqual(await bootState(), { ...COMMITTED_0 });
    });
  });

  describe("updates and rollback", () => {
    beforeEach(baseline);

    it("7.19/7.27 push with commit_timeout: pending after the reboot, committed by OTA.Commit, kept across a reset", async () => {
      await push(firmware().update.zip, 30);
      await afterReboot();
      assert.equal(await version(), firmware().update.manifest.version);
      assert.deepEqual(await bootState(), { active_slot: 1, is_committed: false, revert_slot: 0, commit_timeout: 30 });
      await dut().rpc("OTA.Commit");
      await dut().reset();
      assert.equal(await version(), firmware().update.manifest.version);
      assert.equal((await bootState()).is_committed, true);
    });

    it("7.19 without a commit the old firmware is back after the timeout", async () => {
      await push(firmware().update.zip, 5);
      await afterReboot();
      assert.equal((await bootState()).is_committed, false);
      await dut().pass(6_000);
      await dut().waitUp();
      assert.equal(await version(), firmware().base.manifest.version);
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.20 an image that crashes at start: the old firmware boots again", async () => {
      await push(firmware().crash.zip, 30);
      await dut().pass(200);
      await dut().expect(/crash at start/);
      await dut().waitUp();
      assert.equal(await version(), firmware().base.manifest.version);
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.21 OTA.Revert while uncommitted: back to the old slot, committed", async () => {
      await push(firmware().update.zip, 30);
      await afterReboot();
      await dut().rpc("OTA.Revert");
      await afterReboot();
      assert.equal(await version(), firmware().base.manifest.version);
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.17 an update while uncommitted is refused", async () => {
      await push(firmware().update.zip, 30);
      await afterReboot();
      await remoteError(dut().rpc("OTA.Begin", { size: 10 }), -1, "Previous update has not been committed yet");
    });

    it("7.18 OTA.Update from an HTTP server, commit_timeout 0: the new firmware, committed", async function () {
      if (!dut().hasNetwork) return skipBecause(this, "a serial-only rig board has no network route to this computer");
      const zip = firmware().update.zip;
      const server = http.createServer((_req, res) => res.writeHead(200, { "Content-Length": zip.length }).end(zip));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fw.zip`;
        assert.equal(await dut().rpc("OTA.Update", { url, commit_timeout: 0 }, { timeoutMs: 60_000 }), null);
        await afterReboot();
        assert.equal(await version(), firmware().update.manifest.version);
        assert.deepEqual(await bootState(), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
      } finally {
        server.close();
      }
    });
  });

  describe("bad packages", () => {
    beforeEach(baseline);

    it("7.23 a corrupted entry: Invalid CRC, nothing changed", async () => {
      const zip = Buffer.from(firmware().update.zip);
      zip[zip.length - 3000] ^= 1;
      await assert.rejects(push(zip, 0), (e: unknown) => e instanceof RemoteError && e.code === -23);
      assert.equal(((await dut().rpc("OTA.Status")) as { state: number }).state, 2);
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.23 a package for another platform: Wrong platform", async () => {
      const app = firmware().update.app;
      const { zip } = buildFwZip({
        name: "xs-ota",
        platform: "esp8266",
        version: "9.0.0",
        buildId: "x/9.0.0",
        modified: new Date(0),
        files: [{ part: "app", src: "app.bin", data: app, attrs: { type: "app" } }],
      });
      await assert.rejects(push(zip, 0), (e: unknown) => e instanceof RemoteError && e.code === -5 && /Wrong platform/.test(e.remoteMessage));
      assert.deepEqual(await bootState(), COMMITTED_0);
    });

    it("7.27 a wrong offset is refused; OTA.End mid-stream aborts and a new OTA.Begin works", async () => {
      const zip = firmware().update.zip;
      await dut().rpc("OTA.Begin", { size: zip.length });
      await dut().rpc("OTA.Write", { offset: 0, data: zip.subarray(0, 1024).toString("base64") });
      await remoteError(dut().rpc("OTA.Write", { offset: 4096, data: "AAAA" }), 400, "unexpected offset 4096, expected 1024");
      const status = (await dut().rpc("OTA.Status")) as { state: number; progress_percent: number };
      assert.equal(status.state, 1);
      await remoteError(dut().rpc("OTA.End"), -3, "Update aborted");
      assert.equal(((await dut().rpc("OTA.Status")) as { state: number }).state, 2);
      assert.equal(await dut().rpc("OTA.Begin", { size: zip.length }), null);
      await remoteError(dut().rpc("OTA.End"), -3, "Update aborted");
      assert.deepEqual(await bootState(), COMMITTED_0);
    });
  });
});

describe("conformance over the network transports (§7.6-7.9, 7.27)", () => {
  before(function () {
    if (dut().networkPorts.length === 0) skipBecause(this, "no network port in the rig inventory (ports:)");
  });
  beforeEach(baseline);

  /** A client on one of the board's network ports; the first call waits for the board to be subscribed/listening. */
  async function client(port: string): Promise<RpcClient> {
    const rpc = new RpcClient(await openPort(port), { timeoutMs: 10_000 });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await rpc.call("RPC.Ping", undefined, { timeoutMs: 1_000 });
        return rpc;
      } catch (e) {
        if (!(e instanceof TimeoutError) || Date.now() > deadline) throw e;
      }
    }
  }

  it("answers RPC.List and OTA.GetBootState on every network port", async () => {
    for (const port of dut().networkPorts) {
      const rpc = await client(port);
      try {
        assert.ok(((await rpc.call("RPC.List")) as string[]).includes("OTA.Commit"), port);
        assert.deepEqual(await rpc.call("OTA.GetBootState"), COMMITTED_0, port);
      } finally {
        await rpc.close();
      }
    }
  });

  it("takes a pushed update on every network port (mos ota's sequence)", async () => {
    for (const port of dut().networkPorts) {
      await baseline();
      const rpc = await client(port);
      const zip = firmware().update.zip;
      try {
        await rpc.call("OTA.Begin", { size: zip.length, commit_timeout: 0 });
        for (let offset = 0; offset < zip.length; offset += 1024) {
          await rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + 1024).toString("base64") });
        }
        await rpc.call("OTA.End");
      } finally {
        await rpc.close();
      }
      await afterReboot();
      assert.equal(await version(), firmware().update.manifest.version, port);
      assert.deepEqual(await bootState(), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 }, port);
    }
  });
});
