// The firmware of this repository as an OTA package for the virtual board:
// the app image that buildFirmwareImage() would build, wrapped in fw.zip.
// Tests that need firmware which fails on purpose (rollback after a crash or
// a hang) replace modules here, by specifier, instead of through a hidden
// CLI switch: the image stays a real, valid image, only its code misbehaves.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageAppImage } from "../fwpack/app-package.ts";
import type { BuiltFwZip } from "../fwpack/fw-zip.ts";
import { buildVirtualBoardImage } from "../fwpack/virtual-board-image.ts";
import { FirmwareBuildError, HOST_BUILTINS, compileFirmwareModules, compilerDateTime, importedSpecifiers } from "./firmware.ts";

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

async function firmwareModules(manifestPath: string, override: Iterable<readonly [string, string]>): Promise<Map<string, string>> {
  const modules = new Map(await compileFirmwareModules(manifestPath));
  const replaced = new Map(override);
  for (const [specifier, source] of replaced) modules.set(specifier, source);
  // The same rule compileFirmwareModules applies to the manifest's modules: an
  // import nothing provides would only show up as a failed boot.
  for (const [specifier, source] of replaced) {
    for (const imported of importedSpecifiers(source)) {
      if (!modules.has(imported) && !HOST_BUILTINS.has(imported)) {
        throw new FirmwareBuildError(`replacement module "${specifier}" imports "${imported}", which no module provides`);
      }
    }
  }
  return modules;
}

export async function buildFirmwarePackage(options: FirmwarePackageOptions): Promise<FirmwarePackage> {
  const builtAt = options.builtAt ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const modules = await firmwareModules(options.manifestPath ?? DEFAULT_MANIFEST, options.firmwareOverride ?? []);
  const app = buildVirtualBoardImage({ version: options.version, projectName: PROJECT_NAME, modules, ...compilerDateTime(builtAt) });
  const built: FirmwarePackage = { ...packageAppImage(app, { description: options.description }), app };
  if (options.out !== undefined) {
    fs.mkdirSync(options.out, { recursive: true });
    built.files = { zip: path.join(options.out, "fw.zip"), app: path.join(options.out, "app.bin") };
    fs.writeFileSync(built.files.zip, built.zip);
    fs.writeFileSync(built.files.app, app);
  }
  return built;
}
