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
export const BOARD_BINARY = path.join(REPO_ROOT, "build/vboard/vboard");
export const MANIFEST = path.join(REPO_ROOT, "manifest.json");
export const PARTITIONS_CSV = path.join(REPO_ROOT, "boards/virtual/partitions.csv");

/** Build (or bring up to date) the board program; throws with make's output on failure. */
export function buildBoardProgram(): string {
  const r = spawnSync("make", ["-s", "-C", path.join(REPO_ROOT, "host/vboard")], { encoding: "utf8" });
  if (r.error) throw new Error(`cannot run make: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`building the virtual board failed:\n${r.stdout}${r.stderr}`);
  return BOARD_BINARY;
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
