// What a virtual board needs before it can boot: the board program (built by
// host/vboard/Makefile, incrementally) and a flash image (a factory image of
// this repository's firmware on first use). Shared by `xs-ota sim`, the tests
// and the benchmarks, so they all boot the same way.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildFactoryFlash } from "../fwpack/index.ts";
import { buildFirmwareImage } from "./firmware.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const MANIFEST = path.join(REPO_ROOT, "manifest.json");
export const PARTITIONS_CSV = path.join(REPO_ROOT, "boards/virtual/partitions.csv");

/** The virtual board's two builds: 32-bit is the ESP32's slot size, 64-bit runs on every kernel. */
export type BoardBits = 32 | 64;

export interface BitsChoice {
  readonly bits: BoardBits;
  /** Why: VBOARD_BITS, or what probe-bits.sh found by running a 32-bit program. */
  readonly why: string;
}

let probed: BitsChoice | undefined;

/** What probe-bits.sh finds by running a 32-bit program, asked once per process. */
export function probeBits(): BitsChoice {
  if (!probed) {
    const r = spawnSync(path.join(REPO_ROOT, "host/vboard/probe-bits.sh"), ["--explain"], { encoding: "utf8" });
    const m = /^(32|64) (.*)$/.exec(r.stdout.trim());
    probed = m ? { bits: Number(m[1]) as BoardBits, why: m[2]! } : { bits: 64, why: `the 32-bit probe failed: ${r.error?.message ?? r.stderr.trim()}` };
  }
  return probed;
}

/** The build to run: VBOARD_BITS when set (as for make), else the probe's answer. */
export function boardBits(): BitsChoice {
  const forced = process.env.VBOARD_BITS;
  if (forced === undefined || forced === "") return probeBits();
  if (forced !== "32" && forced !== "64") throw new Error(`VBOARD_BITS must be 32 or 64, not "${forced}"`);
  return { bits: Number(forced) as BoardBits, why: "VBOARD_BITS is set" };
}

/** Every build this machine can run: 64-bit always, 32-bit where the probe ran one. */
export function runnableBits(): BoardBits[] {
  return probeBits().bits === 32 ? [32, 64] : [64];
}

/** Where the board program of a build lives. */
export function boardBinary(bits: BoardBits = boardBits().bits): string {
  return path.join(REPO_ROOT, "build/vboard", String(bits), "vboard");
}

/**
 * Run the board program once with --version and return what it says, or
 * throw one line that names the OS error and the fix. Through bash, not
 * execvp: on "Exec format error" execvp hands the binary to /bin/sh as a
 * script, which then fails with a misleading syntax error.
 */
export function checkBoardProgram(binary: string): string {
  const r = spawnSync("bash", ["-c", '"$0" --version', binary], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.startsWith("vboard ")) return r.stdout.trim();
  const said = (r.stderr || r.stdout).trim().split("\n").pop() ?? "";
  const osError = /: ([^:]+)$/.exec(said)?.[1] ?? (said || `exit code ${r.status}`);
  let fix = "rebuild it: make clean build";
  if (/exec format error/i.test(osError) && elfBits(binary) === 32)
    fix = "this kernel cannot run 32-bit programs: build the 64-bit board with VBOARD_BITS=64 (or unset VBOARD_BITS: make picks by itself)";
  else if (/no such file/i.test(osError)) fix = "build it: make build";
  throw new Error(`the virtual board cannot start: ${binary}: ${osError}; ${fix}`);
}

/** 32 or 64 from an ELF header, undefined for anything else. */
function elfBits(file: string): 32 | 64 | undefined {
  try {
    const fd = fs.openSync(file, "r");
    const head = Buffer.alloc(5);
    fs.readSync(fd, head, 0, 5, 0);
    fs.closeSync(fd);
    if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return head[4] === 1 ? 32 : head[4] === 2 ? 64 : undefined;
  } catch {
    return undefined;
  }
}

/** Build (or bring up to date) the board program; throws with make's output on failure. */
export function buildBoardProgram(bits: BoardBits = boardBits().bits): string {
  const r = spawnSync("make", ["-s", "-C", path.join(REPO_ROOT, "host/vboard"), `VBOARD_BITS=${bits}`], { encoding: "utf8" });
  if (r.error) throw new Error(`cannot run make: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`building the virtual board failed:\n${r.stdout}${r.stderr}`);
  return boardBinary(bits);
}

export function firmwareVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** A factory flash image holding `app` in ota_0, written to `flashPath`. */
export function writeFactoryFlash(flashPath: string, app: Uint8Array): void {
  const flash = buildFactoryFlash({ partitionsCsv: fs.readFileSync(PARTITIONS_CSV, "utf8"), app });
  fs.mkdirSync(path.dirname(flashPath), { recursive: true });
  fs.writeFileSync(flashPath, flash);
}

/** Create the flash image from this repository's firmware unless it exists (or `fresh`). */
export async function ensureFlash(flashPath: string, fresh = false): Promise<"created" | "kept"> {
  if (!fresh && fs.existsSync(flashPath)) return "kept";
  const app = await buildFirmwareImage({ manifestPath: MANIFEST, version: firmwareVersion() });
  writeFactoryFlash(flashPath, app);
  return "created";
}
