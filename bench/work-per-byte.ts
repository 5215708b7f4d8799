// Issue 14, item 3: instructions the board program executes per payload
// byte of an update, counted by valgrind's callgrind (instruction counts
// repeat on a noisy machine, unlike times), for a push (OTA.Begin/Write/End
// in 512-byte chunks over HTTP, as `xs-ota ota` sends them) and a pull
// (OTA.Update: the firmware downloads the package itself).
//
// Each run is one boot of the board under callgrind on the virtual clock,
// ended by the reboot that follows the update (or, for the idle run, by
// Sys.Reboot), so callgrind writes its profile at exit. The idle run's
// instructions (boot, one RPC, reboot) are subtracted: what is left is the
// update's, divided by the package's bytes. Split by source file: the JS
// engine (XS), native code (the device's native module in modules/, which
// includes the SHA-1/SHA-256 that the emulated IDF's image check uses too;
// the XS host; Moddable's text and logical data modules), the emulated
// ESP-IDF, and the rest (libc, the dynamic loader). The detail also counts
// XS's garbage collections during the update: each marks the whole live
// heap, and when the firmware allocates on every TCP segment they come
// every segment or two and take most of the instructions.
//
// The limit is measured in the same run: the emulated IDF's own work per
// image byte, esp_ota_write (NOR check and write to the flash file) plus
// esp_ota_end (reading the image back and checking its SHA-256), inclusive.
// A native updater could do no less than that per byte.
//
// Run alone: npx tsx --tsconfig tsconfig.json bench/work-per-byte.ts

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { file, servePackages, startBench, testFirmware, type Bench } from "../test/ota-rig.ts";
import { readCallgrind, type CallgrindProfile } from "./callgrind-profile.ts";
import type { Benchmark, Figure } from "./figure.ts";
import { isMain, runStandalone } from "./standalone.ts";

/** `xs-ota ota`'s default chunk (host/cli/ota-command.ts). */
const PUSH_CHUNK = 512;
/** The functions whose inclusive instructions are the anchor. */
const ANCHOR_FUNCTIONS = ["esp_ota_write", "esp_ota_end"];
/** XS's garbage collector: each call marks the whole live heap, so how often it runs is counted too. */
const COLLECT_FUNCTION = "fxCollect";

type Group = "js_engine" | "native" | "emulated_idf" | "other";

const GROUPS: ReadonlyArray<readonly [Group, RegExp]> = [
  ["js_engine", /moddable\/xs\//],
  ["emulated_idf", /(^|\/)host\/vboard\/idf\//],
  ["native", /(^|\/)(modules\/(esp32|vboard)\/|host\/vboard\/xs\/|host\/vboard\/main\.c$)|moddable\/modules\//],
];

function groupOf(sourceFile: string): Group {
  return GROUPS.find(([, pattern]) => pattern.test(sourceFile))?.[0] ?? "other";
}

interface Counts {
  readonly total: number;
  readonly groups: Record<Group, number>;
  readonly byFile: ReadonlyMap<string, number>;
  readonly byFunction: ReadonlyMap<string, number>;
  readonly anchor: number;
  readonly collections: number;
}

/** How many source files and functions the detail names, hottest first. */
const HOTTEST = 8;

function counts(profile: CallgrindProfile): Counts {
  const groups: Record<Group, number> = { js_engine: 0, native: 0, emulated_idf: 0, other: 0 };
  for (const [sourceFile, ir] of profile.byFile) groups[groupOf(sourceFile)] += ir;
  const anchor = ANCHOR_FUNCTIONS.reduce((sum, f) => sum + (profile.inclusive.get(f) ?? 0), 0);
  const collections = profile.calls.get(COLLECT_FUNCTION) ?? 0;
  return { total: profile.total, groups, byFile: profile.byFile, byFunction: profile.byFunction, anchor, collections };
}

/** One boot under callgrind: `action`, then the reboot it asked for ends the boot and callgrind writes its profile. */
async function profileBoot(action: (bench: Bench) => Promise<void>): Promise<Counts> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-callgrind-"));
  try {
    const bench = await startBench("virtual", {
      launcher: ["valgrind", "--tool=callgrind", `--callgrind-out-file=${out}/callgrind.%p.out`],
      // valgrind runs the board some 50 times slower: the task watchdog would see a hang
      env: { VB_TASK_WDT_S: "0" },
      readyTimeoutMs: 600_000,
    });
    try {
      // Stopping in the listener keeps the supervisor from booting again: one boot, one profile.
      const ended = new Promise<void>((resolve) => bench.board.once("boot-end", () => resolve(bench.board.stop())));
      await action(bench);
      // The reboot waits for the board's clock, unless it is due at once (Sys.Reboot with no delay).
      await Promise.race([ended, bench.board.advanceClock(1000)]);
      await ended;
    } finally {
      await bench.close();
    }
    const profiles = fs.readdirSync(out);
    if (profiles.length !== 1) throw new Error(`expected one callgrind profile in ${out}, found ${profiles.join(", ")}`);
    return counts(readCallgrind(path.join(out, profiles[0]!), [...ANCHOR_FUNCTIONS, COLLECT_FUNCTION]));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const LONG = { timeoutMs: 600_000 };

async function push(bench: Bench, zip: Buffer): Promise<void> {
  await bench.rpc.call("OTA.Begin", { size: zip.length, commit_timeout: 0 }, LONG);
  for (let offset = 0; offset < zip.length; offset += PUSH_CHUNK) {
    await bench.rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + PUSH_CHUNK).toString("base64") }, LONG);
  }
  await bench.rpc.call("OTA.End", {}, LONG);
}

async function pull(bench: Bench, zip: Buffer): Promise<void> {
  const server = await servePackages({ "/fw.zip": file(zip) });
  try {
    await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, LONG);
  } finally {
    await server.close();
  }
}

const perByte = (n: number, bytes: number) => Math.round((n / bytes) * 10) / 10;

function figure(name: string, how: string, run: Counts, idle: Counts, zipBytes: number, imageBytes: number): Figure {
  const value = (run.total - idle.total) / zipBytes;
  const limit = (run.anchor - idle.anchor) / imageBytes;
  const split = Object.fromEntries(Object.entries(run.groups).map(([g, ir]) => [g, perByte(ir - idle.groups[g as Group], zipBytes)]));
  /** The update's own instructions per byte (the idle run's taken off) of the hottest keys, named by `label`. */
  const hottest = (of: (c: Counts) => ReadonlyMap<string, number>, label: (key: string) => string) =>
    Object.fromEntries(
      [...of(run)]
        .map(([key, ir]) => [label(key), perByte(ir - (of(idle).get(key) ?? 0), zipBytes)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, HOTTEST),
    );
  return {
    name,
    value,
    unit: "instructions/byte",
    limit,
    limitName: "the emulated IDF's esp_ota_write + esp_ota_end (flash write, read back, SHA-256 check) per image byte, same run",
    ratio: value / limit,
    better: "lower",
    detail: {
      how,
      package_bytes: zipBytes,
      image_bytes: imageBytes,
      per_byte_by_group: split,
      per_byte_hottest_files: hottest((c) => c.byFile, (f) => path.basename(f)),
      per_byte_hottest_functions: hottest((c) => c.byFunction, (f) => f),
      instructions: { run: run.total, idle_boot: idle.total },
      xs_collections: { update: run.collections - idle.collections, per_mb: Math.round(((run.collections - idle.collections) / zipBytes) * 1e6 * 10) / 10 },
      board: "64-bit or 32-bit as this machine runs (boardBits), virtual clock, under valgrind --tool=callgrind",
    },
  };
}

async function run(): Promise<Figure[]> {
  const { zip, app } = (await testFirmware()).v2;
  const idle = await profileBoot(async (bench) => void (await bench.rpc.call("Sys.Reboot", { delay_ms: 0 }, LONG)));
  const pushed = await profileBoot((bench) => push(bench, zip));
  const pulled = await profileBoot((bench) => pull(bench, zip));
  return [
    figure("instructions-per-byte-push", `OTA.Begin/Write (${PUSH_CHUNK}-byte chunks, base64, HTTP)/End`, pushed, idle, zip.length, app.length),
    figure("instructions-per-byte-pull", "OTA.Update over the firmware's HTTP client from a local server", pulled, idle, zip.length, app.length),
  ];
}

export const workPerByte: Benchmark = { title: "Instructions per payload byte of an update (callgrind), by JS engine, native code and emulated IDF", run };

if (isMain(import.meta.url)) await runStandalone(workPerByte);
