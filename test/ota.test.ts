// The OTA service end to end on the virtual board, through its HTTP channel
// (issue: "The OTA service, end to end"). The clock is virtual, so commit
// timeouts pass when a test says so.

import assert from "node:assert/strict";
import { RemoteError } from "../host/client/rpc-client.ts";
import { file, servePackages, startBench, testFirmware, type Bench, type PackageServer } from "./ota-rig.ts";

interface BootState {
  active_slot: number;
  is_committed: boolean;
  revert_slot: number;
  commit_timeout: number;
}

const bootState = (b: Bench) => b.rpc.call("OTA.GetBootState") as Promise<BootState>;
const version = async (b: Bench) => ((await b.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version;

async function rejectsWith(p: Promise<unknown>, code: number, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RemoteError, String(e));
    assert.equal(e.code, code, e.message);
    if (typeof message === "string") assert.equal(e.remoteMessage, message);
    else if (message) assert.match(e.remoteMessage, message);
    return true;
  });
}

describe("OTA on the virtual board", function () {
  this.timeout(120_000);
  let server: PackageServer;
  let bench: Bench;

  before(async () => {
    const fw = await testFirmware();
    server = await servePackages({ "/v2.zip": file(fw.v2.zip), "/crash.zip": file(fw.crash.zip), "/hang.zip": file(fw.hang.zip) });
  });
  after(() => server.close());
  beforeEach(async () => (bench = await startBench()));
  afterEach(() => bench.close());

  /** OTA.Update and the reboot into the new image. */
  async function update(name: string, commitTimeout: number): Promise<void> {
    const booted = bench.nextBoot();
    assert.equal(await bench.rpc.call("OTA.Update", { url: `${server.url}/${name}`, commit_timeout: commitTimeout }), null);
    // The reboot follows the reply after 100 ms of the board's (virtual) time.
    await bench.board.advanceClock(200);
    await booted;
  }

  it("a fresh board runs v1, committed, in slot 0", async () => {
    assert.equal(await version(bench), "1.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("updates to v2 with commit_timeout 30, commits, and v2 survives a reboot", async () => {
    await update("v2.zip", 30);
    assert.equal(await version(bench), "2.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: false, revert_slot: 0, commit_timeout: 30 });
    assert.equal(await bench.rpc.call("OTA.Commit"), null);
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    const booted = bench.nextBoot();
    await bench.rpc.call("Sys.Reboot", { delay_ms: 0 });
    await bench.board.advanceClock(1);
    await booted;
    assert.equal(await version(bench), "2.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("goes back to v1 when nobody commits before the timeout", async () => {
    await update("v2.zip", 30);
    assert.equal(await version(bench), "2.0.0");
    await bench.board.advanceClock(29_000);
    assert.equal((await bootState(bench)).is_committed, false);
    const booted = bench.nextBoot();
    await bench.board.advanceClock(1_500);
    await booted;
    assert.equal(await version(bench), "1.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    assert.match(bench.console(), /Update commit timeout expired/);
  });

  it("goes back to v1 when the new image crashes at start", async () => {
    await bench.rpc.call("OTA.Update", { url: `${server.url}/crash.zip`, commit_timeout: 30 });
    await bench.board.advanceClock(200);
    // The crash is a panic and a reset; the bootloader then aborts the trial.
    await waitFor(async () => bench.board.isReady && (await version(bench).catch(() => "")) === "1.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    assert.match(bench.console(), /crash at start/);
  });

  it("goes back to v1 when the new image hangs before committing", async () => {
    await bench.rpc.call("OTA.Update", { url: `${server.url}/hang.zip`, commit_timeout: 30 });
    await bench.board.advanceClock(200);
    // Only the task watchdog ends a hang; it resets the board, and the trial is over.
    await waitFor(async () => bench.board.isReady && (await version(bench).catch(() => "")) === "1.0.0", 60_000);
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("OTA.Revert while pending goes back to v1, committed", async () => {
    await update("v2.zip", 30);
    const booted = bench.nextBoot();
    assert.equal(await bench.rpc.call("OTA.Revert"), null);
    await bench.board.advanceClock(200);
    await booted;
    assert.equal(await version(bench), "1.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("commit_timeout 0 commits at the first boot", async () => {
    await update("v2.zip", 0);
    assert.equal(await version(bench), "2.0.0");
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("refuses Commit and Revert when committed, and an update while one is pending", async () => {
    await rejectsWith(bench.rpc.call("OTA.Commit"), -1);
    await rejectsWith(bench.rpc.call("OTA.Revert"), -1);
    await update("v2.zip", 30);
    await rejectsWith(bench.rpc.call("OTA.Update", { url: `${server.url}/v2.zip` }), -1, "Previous update has not been committed yet");
    await rejectsWith(bench.rpc.call("OTA.Begin", { size: 100 }), -1, "Previous update has not been committed yet");
  });

  it("refuses a malformed OTA.Update", async () => {
    await rejectsWith(bench.rpc.call("OTA.Update"), -1, "Malformed request");
    await rejectsWith(bench.rpc.call("OTA.Update", { url: 5 }), -1, "Malformed request");
  });

  it("takes commit_timeout as a numeric string too", async () => {
    await update("v2.zip", "45" as unknown as number);
    assert.equal((await bootState(bench)).commit_timeout, 45);
  });

  it("creates a snapshot without changing the boot state", async () => {
    assert.deepEqual(await bench.rpc.call("OTA.CreateSnapshot"), { slot: 1 });
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("creates a snapshot as revert: uncommitted after reboot, back to the snapshot without a commit", async () => {
    assert.deepEqual(await bench.rpc.call("OTA.CreateSnapshot", { set_as_revert: true, commit_timeout: 20 }), { slot: 1 });
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: false, revert_slot: 1, commit_timeout: 20 });
    let booted = bench.nextBoot();
    await bench.rpc.call("Sys.Reboot", { delay_ms: 0 });
    await bench.board.advanceClock(1);
    await booted;
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: false, revert_slot: 1, commit_timeout: 20 });
    booted = bench.nextBoot();
    await bench.board.advanceClock(21_000);
    await booted;
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 1, commit_timeout: 0 });
    assert.equal(await version(bench), "1.0.0");
  });

  it("refuses a snapshot while uncommitted", async () => {
    await update("v2.zip", 30);
    await rejectsWith(bench.rpc.call("OTA.CreateSnapshot"), -1, "Cannot create snapshots in uncommitted state");
  });

  it("SetBootState: partial updates, and refusals that change nothing", async () => {
    await rejectsWith(bench.rpc.call("OTA.SetBootState", {}), -2);
    await rejectsWith(bench.rpc.call("OTA.SetBootState", { active_slot: 1 }), -3, "slot 1 holds no valid image");
    await rejectsWith(bench.rpc.call("OTA.SetBootState", { revert_slot: 7 }), -3, "no slot 7");
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    await bench.rpc.call("OTA.CreateSnapshot");
    assert.equal(await bench.rpc.call("OTA.SetBootState", { revert_slot: 1 }), null);
    assert.deepEqual(await bootState(bench), { active_slot: 0, is_committed: true, revert_slot: 1, commit_timeout: 0 });
    assert.equal(await bench.rpc.call("OTA.SetBootState", { active_slot: 1 }), null);
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 1, commit_timeout: 0 });
    const booted = bench.nextBoot();
    await bench.rpc.call("Sys.Reboot", { delay_ms: 0 });
    await bench.board.advanceClock(1);
    await booted;
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: true, revert_slot: 1, commit_timeout: 0 });
    assert.equal(await bench.rpc.call("OTA.SetBootState", { is_committed: false, revert_slot: 0, commit_timeout: 15 }), null);
    assert.deepEqual(await bootState(bench), { active_slot: 1, is_committed: false, revert_slot: 0, commit_timeout: 15 });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}
