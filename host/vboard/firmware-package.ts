// The firmware of this repository as a package for the virtual board: the app
// image that buildFirmwareImage() would build, wrapped in fw.zip with the
// partition table (boards/virtual/partitions.csv) and an erased otadata, so
// that `mos flash` or `xs-ota flash` can put it on a blank board. It has no
// boot part: the board's bootloader is emulated in C (host/vboard/idf) and
// reads nothing at 0x1000; mos's flasher needs only `pt` (host/fwpack/README.md).
// Tests that need firmware which fails on purpose (rollback after a crash or
// a hang) replace modules here, by specifier, instead of through a hidden
// CLI switch: the image stays a real, valid image, only its code misbehaves.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageAppImage } from "../fwpack/app-package.ts";
import type { BuiltFwZip } from "../fwpack/fw-zip.ts";
import { blankOtadata, encodePartitionTable, parsePartitionsCsv } from "../fwpack/index.ts";
import { PARTITIONS_CSV } from "./assets.ts";
import { buildFirmwareImage } from "./firmware.ts";

export const DEFAULT_MANIFEST = fileURLToPath(new URL("../../manifest.json", import.meta.url));
export const PROJECT_NAME = "xs-ota";

/** `main` modules that fail the ways an update can fail before it is committed. */
export const FAULTY_MAIN = {
  /** Throws while the entry module runs, before any service starts. */
  "crash-at-start": 'throw new Error("xs-ota test firmware: crash at start");\n',
  /** Never returns: no RPC, no commit, only a reset ends it. */
  hang: "for (;;) {}\n",
} as const;

export interface FirmwarePackageOptions {
  version: string;
  /** Build time, in the image's descriptor and the manifest; defaults to now (whole seconds). */
  builtAt?: Date;
  manifestPath?: string;
  description?: string;
  /** Modules to replace or add: specifier and JavaScript (ES module) source, as the board runs it. */
  firmwareOverride?: Iterable<readonly [string, string]>;
  /** Directory to write fw.zip and app.bin to; nothing is written without it. */
  out?: string;
}

export interface FirmwarePackage extends BuiltFwZip {
  app: Buffer;
  /** The files written, when `out` was given. */
  files?: { zip: string; app: string };
}

export async function buildFirmwarePackage(options: FirmwarePackageOptions): Promise<FirmwarePackage> {
  const builtAt = options.builtAt ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const app = await buildFirmwareImage({
    manifestPath: options.manifestPath ?? DEFAULT_MANIFEST,
    version: options.version,
    projectName: PROJECT_NAME,
    builtAt,
    override: options.firmwareOverride,
  });
  const pt = encodePartitionTable(parsePartitionsCsv(fs.readFileSync(PARTITIONS_CSV, "utf8")));
  const built: FirmwarePackage = { ...packageAppImage(app, { description: options.description, flash: { pt, otadata: blankOtadata() } }), app };
  if (options.out !== undefined) {
    fs.mkdirSync(options.out, { recursive: true });
    built.files = { zip: path.join(options.out, "fw.zip"), app: path.join(options.out, "app.bin") };
    fs.writeFileSync(built.files.zip, built.zip);
    fs.writeFileSync(built.files.app, app);
  }
  return built;
}
