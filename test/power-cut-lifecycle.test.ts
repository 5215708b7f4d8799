// Power cuts across the OTA lifecycle (issue 12). For each action that
// writes flash, a dry run counts its flash operations; then the power goes
// at each of them, clean and torn. After every cut the board must come back
// consistent: it boots, OTA.GetBootState agrees with the otadata on the flash
// file, the firmware that runs is the intact image of the slot the boot
// state names, the slots the action does not write and the saved config are
// intact, an uncommitted state rolls back on a reset, and a new update goes
// through. Every point is swept (no sampling). The matrix is printed and
// written to bench/results/power-cut.json.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  DataSubtype,
  OTADATA_SIZE,
  OtaImageState,
  PARTITION_TABLE_MAX_LEN,
  PARTITION_TABLE_OFFSET,
  PartitionType,
  decodeOtadata,
  decodePartitionTable,
  otaSlotForSeq,
  otaSlotOf,
  otaStateName,
  type Partition,
} from "../host/fwpack/index.ts";
import { REPO_ROOT, boardBits } from "../host/vboard/assets.ts";
import type { FirmwarePackage } from "../host/vboard/firmware-package.ts";
import type { BootEnd, BootOptions, VirtualBoard } from "../host/vboard/supervisor.ts";
import { file, servePackages, startBench, testFirmware, type Bench, type PackageServer } from "./ota-rig.ts";

interface BootState {
  active_slot: number;
  is_committed: boolean;
  revert_slot: number;
  commit_timeout: number;
}

/** Long enough for the firmware's 100 ms reboot delay after OTA.Update and OTA.Revert. */
const REBOOT_WINDOW_MS = 200;
/** The commit_timeout of the trials that Commit, Revert and the rollback timer act on. */
const TRIAL_TIMEOUT_S = 60;

/** Over 2 KB saved: one record per NVS page, so saves open pages and compact them. */
const savedConfig = (tag: string) => ({
  rpc: {
    auth_domain: tag,
    acl: JSON.stringify([{ method: "*", acl: "*" }, ...Array.from({ length: 50 }, (_, i) => ({ method: `Custom.${tag}${i}`, acl: "*" }))]),
  },
});
const OLD_CONFIG = savedConfig("old");
const NEW_CONFIG = savedConfig("new");

/** Flash files the actions start from, made once: each boots into the state before its action. */
interface Snapshots {
  /** v1 in slot 0, booted once and committed, the old config saved after two others (the next save compacts NVS). */
  committed: Buffer;
  /** committed, then v2 written to slot 1 and set to boot next on trial, commit_timeout 0: the restart not yet done. */
  applied: Buffer;
  /** The same with commit_timeout 60: its boot is a trial with the rollback timer armed. */
  appliedWithTimeout: Buffer;
  /** applied, booted: v2 in slot 1 committed, v1 in slot 0. */
  updated: Buffer;
}

interface Action {
  readonly name: string;
  from(s: Snapshots): Buffer;
  /** The action is a boot: cut points are counted from power-on (powerCutAt). */
  readonly atBoot?: boolean;
  /** Before the power cut is armed (its flash operations are not swept). */
  setup?(lane: Lane): Promise<void>;
  /** The action; a cut stops it anywhere. */
  run?(lane: Lane): Promise<void>;
  /** It restarts the board: its cut points go on into the boot that follows, up to ready. */
  readonly bootAfter?: boolean;
  /** The app slot it writes; the others must come through byte for byte. */
  readonly writesSlot?: number;
  /** It saves NEW_CONFIG: the saved config may be the old or the new one. */
  readonly savesConfig?: boolean;
  /** The boot states a cut may leave (stateInWords()): the one before the action or the one after it, nothing else. */
  readonly outcomes: readonly string[];
}

/** A boot state in words, with the version that runs: what an action leaves is one of its outcomes. */
function stateInWords(version: string, state: BootState): string {
  return `${version} in slot ${state.active_slot}, ${state.is_committed ? "committed" : `on trial, reverting to slot ${state.revert_slot}`}`;
}
const V1_COMMITTED = "1.0.0 in slot 0, committed";
const V2_COMMITTED = "2.0.0 in slot 1, committed";
const V1_ON_TRIAL = "1.0.0 in slot 0, on trial, reverting to slot 1";
/** The snapshot (a byte copy of slot 0) runs, committed. */
const SNAPSHOT_COMMITTED = "1.0.0 in slot 1, committed";

const call = (lane: Lane, method: string, args?: unknown) => lane.bench.rpc.call(method, args);

function actions(server: PackageServer): Action[] {
  const update = { url: `${server.url}/2.0.0.zip`, commit_timeout: 0 };
  return [
    {
      name: "update (OTA.Update)",
      from: (s) => s.committed,
      run: async (lane) => {
        await call(lane, "OTA.Update", update);
        await lane.board.advanceClock(REBOOT_WINDOW_MS);
      },
      writesSlot: 1,
      outcomes: [V1_COMMITTED, V2_COMMITTED],
    },
    // Cut or not, a trial boot that does not get to its commit rolls back at the next reset.
    { name: "trial boot", from: (s) => s.applied, atBoot: true, outcomes: [V1_COMMITTED, V2_COMMITTED] },
    {
      name: "OTA.Commit",
      from: (s) => s.appliedWithTimeout,
      run: (lane) => call(lane, "OTA.Commit").then(() => undefined),
      outcomes: [V1_COMMITTED, V2_COMMITTED],
    },
    {
      name: "OTA.Revert",
      from: (s) => s.appliedWithTimeout,
      run: async (lane) => {
        await call(lane, "OTA.Revert");
        await lane.board.advanceClock(REBOOT_WINDOW_MS);
      },
      bootAfter: true,
      outcomes: [V1_COMMITTED],
    },
    {
      name: "rollback-timer reboot",
      from: (s) => s.appliedWithTimeout,
      run: (lane) => lane.board.advanceClock(TRIAL_TIMEOUT_S * 1000 + REBOOT_WINDOW_MS),
      bootAfter: true,
      outcomes: [V1_COMMITTED],
    },
    {
      name: "OTA.CreateSnapshot",
      from: (s) => s.committed,
      run: (lane) => call(lane, "OTA.CreateSnapshot", {}).then(() => undefined),
      writesSlot: 1,
      outcomes: [V1_COMMITTED],
    },
    {
      name: "OTA.CreateSnapshot set_as_revert",
      from: (s) => s.committed,
      run: (lane) => call(lane, "OTA.CreateSnapshot", { set_as_revert: true, commit_timeout: TRIAL_TIMEOUT_S }).then(() => undefined),
      writesSlot: 1,
      // The record names slot 0 the trial, then otadata gets the snapshot's entry (the fallback),
      // then the trial's: a cut between those two boots the snapshot, which the boot guard accepts.
      // Not the state before nor after, but the same image runs, committed, from an intact slot.
      outcomes: [V1_COMMITTED, V1_ON_TRIAL, SNAPSHOT_COMMITTED],
    },
    {
      name: "OTA.SetBootState",
      from: (s) => s.updated,
      run: (lane) =>
        call(lane, "OTA.SetBootState", { active_slot: 0, is_committed: false, revert_slot: 1, commit_timeout: TRIAL_TIMEOUT_S }).then(() => undefined),
      outcomes: [V2_COMMITTED, V1_ON_TRIAL],
    },
    {
      name: "Config.Save",
      from: (s) => s.committed,
      setup: (lane) => call(lane, "Config.Set", { config: NEW_CONFIG }).then(() => undefined),
      run: (lane) => call(lane, "Config.Save").then(() => undefined),
      savesConfig: true,
      outcomes: [V1_COMMITTED],
    },
  ];
}

/** One cut: `after` operations into the action once armed, or `atBoot` operations into a boot of `flash`. */
interface CutPoint {
  readonly flash: Buffer;
  readonly after?: number;
  readonly atBoot?: number;
  /** How that boot starts: a restart, for the boot after an action's restart. */
  readonly reason?: BootOptions["reason"];
  /** Where the point is, for the report: "op 7", "boot after, op 1". */
  readonly label: string;
}

/** Where the partitions are, read from the flash file's own table. */
interface Layout {
  readonly slots: readonly Partition[];
  readonly otadata: Partition;
}

function layoutOf(flash: Buffer): Layout {
  const { partitions } = decodePartitionTable(flash.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX_LEN));
  const slots = partitions.filter((p) => otaSlotOf(p) !== undefined).sort((a, b) => otaSlotOf(a)! - otaSlotOf(b)!);
  const otadata = partitions.find((p) => p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA);
  assert.ok(otadata && slots.length === 2, "the board's partition table has otadata and two OTA slots");
  return { slots, otadata };
}

/** One board on one bench, reused for every point: a point starts by writing its flash file. */
class Lane {
  readonly bench: Bench;
  /** The running boot's console: the bootloader says which slot it loaded. */
  #bootLog = "";

  constructor(bench: Bench) {
    this.bench = bench;
    this.board.on("console", (text) => (this.#bootLog += text));
    this.board.on("boot-end", () => (this.#bootLog = ""));
  }

  get board(): VirtualBoard {
    return this.bench.board;
  }

  readFlash(): Buffer {
    return fs.readFileSync(this.board.options.flashPath);
  }

  /** Power off, put `flash` in the flash file, power on; resolves at once (the caller waits for what it expects). */
  async start(flash: Buffer, boot: BootOptions = {}): Promise<void> {
    await this.board.powerOff();
    this.#bootLog = "";
    fs.writeFileSync(this.board.options.flashPath, flash);
    this.board.boot(boot);
  }

  async powerOffAndRead(): Promise<Buffer> {
    await this.board.powerOff();
    return this.readFlash();
  }

  nextBootEnd(): Promise<BootEnd> {
    return new Promise((resolve) => this.board.once("boot-end", resolve));
  }

  /** The slot the bootloader loaded this boot (the last line: a killed boot's output may trail in first). */
  runningSlot(layout: Layout): number {
    const loaded = [...this.#bootLog.matchAll(/Loaded app from partition at offset 0x([0-9a-f]+)/g)].pop();
    return loaded ? layout.slots.findIndex((p) => p.offset === parseInt(loaded[1]!, 16)) : -1;
  }
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function buildSnapshots(lane: Lane, server: PackageServer): Promise<Snapshots> {
  for (const config of [savedConfig("old1"), savedConfig("old2"), OLD_CONFIG]) await call(lane, "Config.Set", { config, save: true });
  const committed = await lane.powerOffAndRead();
  const applied = async (commitTimeout: number) => {
    await lane.start(committed);
    await lane.board.waitReady();
    await call(lane, "OTA.Update", { url: `${server.url}/2.0.0.zip`, commit_timeout: commitTimeout });
    // Off before the firmware's reboot timer, which runs on the virtual clock only when told.
    return lane.powerOffAndRead();
  };
  const snapshots = { committed, applied: await applied(0), appliedWithTimeout: await applied(TRIAL_TIMEOUT_S) };
  await lane.start(snapshots.applied);
  await lane.board.waitReady();
  return { ...snapshots, updated: await lane.powerOffAndRead() };
}

/** 1..count */
const range = (count: number) => Array.from({ length: Math.max(0, count) }, (_, i) => i + 1);

/** The dry run: every flash operation of the action is a cut point. */
async function cutPoints(lane: Lane, action: Action, snapshots: Snapshots): Promise<CutPoint[]> {
  const from = action.from(snapshots);
  await lane.start(from);
  await lane.board.waitReady();
  if (action.atBoot) return range(await lane.board.flashOps()).map((n) => ({ flash: from, atBoot: n, label: `op ${n}` }));
  await action.setup?.(lane);
  const before = await lane.board.flashOps();
  let end: BootEnd | undefined;
  let restarted: Buffer | undefined;
  // Synchronous in the boot-end event: the flash as the restart left it, before the next boot touches it.
  const onEnd = (e: BootEnd) => ((end = e), (restarted = lane.readFlash()));
  lane.board.once("boot-end", onEnd);
  await action.run!(lane);
  lane.board.off("boot-end", onEnd);
  const ops = (end ? end.flashOps : await lane.board.flashOps()) ?? NaN;
  assert.ok(ops > before, `${action.name}: ${ops - before} flash operations (${end ? end.meaning : "no restart"})`);
  const points: CutPoint[] = range(ops - before).map((n) => ({ flash: from, after: n, label: `op ${n}` }));
  if (!action.bootAfter) return points;
  assert.ok(end?.code === 3 && restarted, `${action.name} restarts the board (${end?.meaning ?? "it did not"})`);
  await lane.board.waitReady();
  const next = await lane.board.flashOps();
  return [...points, ...range(next).map((n) => ({ flash: restarted!, atBoot: n, reason: "sw" as const, label: `boot after, op ${n}` }))];
}

/** What a cut left: the boot state it came back in, and what is inconsistent (nothing: consistent). */
interface Verdict {
  readonly outcome?: string;
  readonly problems: readonly string[];
}

/** Cut at the point, then check the board. */
async function cutAndCheck(lane: Lane, action: Action, point: CutPoint, torn: boolean, packages: readonly FirmwarePackage[], server: PackageServer): Promise<Verdict> {
  const board = lane.board;
  let cut: Promise<BootEnd>;
  if (point.atBoot) {
    await lane.start(point.flash, { reason: point.reason, powerCutAt: point.atBoot, powerCutTorn: torn });
    cut = lane.nextBootEnd(); // a boot ends in an event: not before this
  } else {
    await lane.start(point.flash);
    cut = lane.nextBootEnd();
    await board.waitReady();
    await action.setup?.(lane);
    await board.armPowerCut({ after: point.after!, torn });
    await action.run!(lane).catch(() => undefined); // the cut breaks it off
  }
  const end = await within(cut, 10_000, "the power was not cut");
  if (end.code !== 4) return { problems: [`the boot ended with "${end.meaning}", not a power cut`] };
  await board.waitReady(10_000);
  const verdict = await consistency(lane, action, point, packages);
  return verdict.problems.length ? verdict : { ...verdict, problems: await updateAgain(lane, packages, server) };
}

/** What is wrong with the board as it came back, read through RPC and from the flash file. */
async function consistency(lane: Lane, action: Action, point: CutPoint, packages: readonly FirmwarePackage[]): Promise<Verdict> {
  const problems: string[] = [];
  const state = (await call(lane, "OTA.GetBootState")) as BootState;
  const version = ((await call(lane, "Sys.GetInfo")) as { fw_version: string }).fw_version;
  const saved = (await call(lane, "Config.Get", { key: "rpc" })) as { auth_domain: string; acl: string };
  const flash = lane.readFlash();
  const layout = layoutOf(flash);
  const slotBytes = (bytes: Buffer, slot: number) => {
    const { offset, size } = layout.slots[slot]!;
    return bytes.subarray(offset, offset + size);
  };
  /** The version whose app image the slot holds byte for byte, if any. */
  const imageIn = (slot: number) =>
    layout.slots[slot] && packages.find((p) => slotBytes(flash, slot).subarray(0, p.app.length).equals(p.app))?.manifest.version;
  const otadata = decodeOtadata(flash.subarray(layout.otadata.offset, layout.otadata.offset + OTADATA_SIZE));
  const running = lane.runningSlot(layout);
  const entry = otadata.active === -1 ? undefined : otadata.entries[otadata.active];
  const chosen = entry ? otaSlotForSeq(entry.seq, layout.slots.length) : running;
  const entryState = entry?.state ?? OtaImageState.UNDEFINED;

  const left = stateInWords(version, state);
  if (!action.outcomes.includes(left)) problems.push(`${left}: neither ${action.outcomes.join(" nor ")}`);
  if (state.active_slot !== chosen) problems.push(`GetBootState names slot ${state.active_slot}, otadata slot ${chosen}`);
  if (state.active_slot !== running) problems.push(`slot ${running} runs, GetBootState names slot ${state.active_slot}`);
  if (imageIn(running) !== version) problems.push(`${version} runs, slot ${running} holds ${imageIn(running) ?? "no intact image"}`);
  if (state.is_committed) {
    // A reset must boot it again: not pending (rolled back) nor invalid.
    if (entryState !== OtaImageState.VALID && entryState !== OtaImageState.UNDEFINED) problems.push(`committed, but otadata says ${otaStateName(entryState)}`);
    if (state.commit_timeout !== 0) problems.push(`committed with commit_timeout ${state.commit_timeout}`);
  } else {
    if (entryState !== OtaImageState.PENDING_VERIFY) problems.push(`uncommitted, but otadata says ${otaStateName(entryState)}: a reset would not roll back`);
    if (state.revert_slot === state.active_slot || !imageIn(state.revert_slot)) {
      problems.push(`uncommitted, revert_slot ${state.revert_slot} holds ${imageIn(state.revert_slot) ?? "no intact image"}`);
    }
  }
  for (let slot = 0; slot < layout.slots.length; slot++) {
    if (slot !== action.writesSlot && !slotBytes(flash, slot).equals(slotBytes(point.flash, slot))) problems.push(`slot ${slot} changed, and ${action.name} does not write it`);
  }
  const configs = action.savesConfig ? [OLD_CONFIG, NEW_CONFIG] : [OLD_CONFIG];
  if (!configs.some((c) => c.rpc.auth_domain === saved.auth_domain && c.rpc.acl === saved.acl)) {
    problems.push(`saved config is neither ${configs.map((c) => c.rpc.auth_domain).join(" nor ")} in full: auth_domain ${saved.auth_domain}, acl of ${saved.acl.length} chars`);
  }
  if (problems.length) problems.push(`GetBootState ${JSON.stringify(state)}, otadata entries ${JSON.stringify(otadata.entries.map((e) => ({ seq: e.seq, state: otaStateName(e.state), valid: e.valid })))}`);
  return { outcome: left, problems };
}

/** An uncommitted board goes back to its revert slot on a reset; then the other version installs and commits. */
async function updateAgain(lane: Lane, packages: readonly FirmwarePackage[], server: PackageServer): Promise<string[]> {
  const state = (await call(lane, "OTA.GetBootState")) as BootState;
  if (!state.is_committed) {
    await lane.board.reset();
    await lane.board.waitReady();
    const back = (await call(lane, "OTA.GetBootState")) as BootState;
    if (back.active_slot !== state.revert_slot || !back.is_committed) return [`a reset of ${JSON.stringify(state)} gave ${JSON.stringify(back)}`];
  }
  const running = ((await call(lane, "Sys.GetInfo")) as { fw_version: string }).fw_version;
  const target = packages.find((p) => p.manifest.version !== running)!.manifest.version;
  try {
    await call(lane, "OTA.Update", { url: `${server.url}/${target}.zip`, commit_timeout: 0 });
  } catch (e) {
    return [`the update to ${target} after the cut failed: ${(e as Error).message}`];
  }
  await Promise.all([lane.bench.nextBoot(), lane.board.advanceClock(REBOOT_WINDOW_MS)]);
  const after = ((await call(lane, "Sys.GetInfo")) as { fw_version: string }).fw_version;
  const committed = ((await call(lane, "OTA.GetBootState")) as BootState).is_committed;
  return after === target && committed ? [] : [`the update to ${target} after the cut runs ${after}, ${committed ? "committed" : "uncommitted"}`];
}

interface Row {
  action: string;
  mode: "clean" | "torn";
  points: number;
  consistent: number;
  /** How many cuts left each boot state (Action.outcomes). */
  outcomes: Record<string, number>;
  failures: Array<{ point: string; problems: readonly string[] }>;
}

describe("power cuts across the OTA lifecycle", function () {
  this.timeout(900_000);
  const lanes: Lane[] = [];
  let server: PackageServer;

  before(async () => {
    const fw = await testFirmware();
    server = await servePackages({ "/1.0.0.zip": file(fw.v1.zip), "/2.0.0.zip": file(fw.v2.zip) });
    // Two boards: the cut points are independent, and this machine has two cores.
    for (let i = 0; i < 2; i++) lanes.push(new Lane(await startBench()));
  });
  after(async () => {
    await Promise.all(lanes.map((lane) => lane.bench.close()));
    await server?.close();
  });

  it("leave a consistent board after every flash operation of every action, clean and torn", async () => {
    const started = Date.now();
    const fw = await testFirmware();
    const packages = [fw.v1, fw.v2];
    const snapshots = await buildSnapshots(lanes[0]!, server);
    const jobs: Array<{ row: Row; action: Action; point: CutPoint }> = [];
    const rows: Row[] = [];
    for (const action of actions(server)) {
      const points = await cutPoints(lanes[0]!, action, snapshots);
      for (const mode of ["clean", "torn"] as const) {
        const row: Row = { action: action.name, mode, points: points.length, consistent: 0, outcomes: {}, failures: [] };
        rows.push(row);
        for (const point of points) jobs.push({ row, action, point });
      }
    }
    await Promise.all(
      lanes.map(async (lane) => {
        for (let job = jobs.shift(); job; job = jobs.shift()) {
          const torn = job.row.mode === "torn";
          const { outcome, problems } = await cutAndCheck(lane, job.action, job.point, torn, packages, server).catch((e: Error): Verdict => ({ problems: [e.message] }));
          if (outcome) job.row.outcomes[outcome] = (job.row.outcomes[outcome] ?? 0) + 1;
          if (problems.length) job.row.failures.push({ point: job.point.label, problems });
          else job.row.consistent++;
        }
      }),
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;

    const lines = rows.map((r) => `      ${r.action.padEnd(36)} ${r.mode.padEnd(6)} ${String(r.points).padStart(4)} points ${String(r.consistent).padStart(4)} consistent`);
    const total = rows.reduce((n, r) => n + r.points, 0);
    process.stdout.write(`      every flash operation swept (no sampling): ${total} cuts in ${seconds} s\n${lines.join("\n")}\n`);
    const results = path.join(REPO_ROOT, "bench/results/power-cut.json");
    const report = { generated: new Date().toISOString(), board: `${boardBits().bits}-bit`, sampled: false, seconds, actions: rows };
    fs.writeFileSync(results, JSON.stringify(report, null, 2) + "\n");

    const failures = rows.flatMap((r) => r.failures.map((f) => `${r.action} (${r.mode}) at ${f.point}: ${f.problems.join("; ")}`));
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} inconsistent cut points`);
  });
});
