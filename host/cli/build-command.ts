// xs-ota build: the firmware as a fw.zip in mos's format, complete for
// `mos flash` / `xs-ota flash` on a blank board (pt, otadata and, for a chip,
// boot) and for OTA (the app; the board skips the rest).
// --board virtual builds the firmware for the virtual board (and app.bin);
// --board esp32|esp32s3|esp32c3 packages what Moddable's mcconfig and ESP-IDF
// built (`make esp32`), found with --moddable-out.
// Honours SOURCE_DATE_EPOCH, so a release build can be reproduced byte for byte.

import { createHash } from "node:crypto";
import fs from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import path from "node:path";
import { ESP32_BOARDS, packageModdableBuild, type Esp32Board } from "../fwpack/moddable-package.ts";
import { DEFAULT_MANIFEST, buildFirmwarePackage } from "../vboard/firmware-package.ts";
import { UsageError } from "./connect.ts";

type Board = "virtual" | Esp32Board;

interface BuildOptions {
  board: Board;
  version?: string;
  out: string;
  manifest: string;
  moddableOut?: string;
}

function boardOption(value: string): Board {
  if (value === "virtual" || value in ESP32_BOARDS) return value as Board;
  throw new InvalidArgumentError(`unknown board "${value}": use virtual, esp32, esp32s3 or esp32c3`);
}

/** It lands in esp_app_desc_t.version (31 bytes) and in the package's directory name. */
function versionOption(value: string): string {
  if (!/^[\x21-\x7e]{1,31}$/.test(value) || value.includes("/")) {
    throw new InvalidArgumentError("a version is 1 to 31 printable ASCII characters, without spaces or '/' (e.g. 1.2.0 or 202603041200)");
  }
  return value;
}

/** The build time: SOURCE_DATE_EPOCH (reproducible builds) or now, in whole seconds as the descriptor holds it. */
function buildTime(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === "") return new Date(Math.floor(Date.now() / 1000) * 1000);
  if (!/^\d+$/.test(epoch)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not "${epoch}"`);
  return new Date(Number(epoch) * 1000);
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export function registerBuildCommand(program: Command): void {
  program
    .command("build")
    .description("build the firmware and package it: DIR/fw.zip (mos format: the app for OTA, and pt, otadata and (chips) boot to flash a blank board) and, virtual board, DIR/app.bin")
    .addOption(new Option("--board <name>", "virtual, or esp32 / esp32s3 / esp32c3 to package a Moddable build").argParser(boardOption).default("virtual"))
    .option("--version <version>", "firmware version, e.g. 1.2.0 (virtual board: required; ESP32: taken from the image)", versionOption)
    .option("--out <dir>", "output directory", "build")
    .option("--manifest <file>", "Moddable manifest of the firmware", DEFAULT_MANIFEST)
    .option("--moddable-out <dir>", "ESP32: the ESP-IDF build directory of a Moddable build (xsProj-<subclass>/build)")
    .addHelpText(
      "after",
      "\nExamples:\n  xs-ota build --version 1.2.0 --out build/1.2.0\n  xs-ota build --board esp32 --moddable-out $MODDABLE/build/tmp/esp32/release/xs-ota/xsProj-esp32/build --out build/esp32\n  xs-ota fwinfo build/1.2.0/fw.zip\n  xs-ota --port build/vboard/uart flash --image build/1.2.0/fw.zip",
    )
    .action(async (options: BuildOptions) => {
      if (options.board !== "virtual") return packageEsp32(options);
      if (!options.version) throw new UsageError("--version is required for the virtual board");
      if (!fs.existsSync(options.manifest)) throw new Error(`no manifest at ${options.manifest}`);
      const pkg = await buildFirmwarePackage({ version: options.version, manifestPath: options.manifest, out: options.out, builtAt: buildTime() });
      const { manifest, files } = pkg;
      process.stdout.write(
        [
          `built ${manifest.name} ${manifest.version} for the ${options.board} board`,
          `  build_id  ${manifest.build_id}`,
          `  parts     ${Object.keys(manifest.parts).join(", ")}`,
          `  wrote     ${files!.zip}  ${pkg.zip.length} bytes  sha256 ${sha256(pkg.zip)}`,
          `  wrote     ${files!.app}  ${pkg.app.length} bytes  sha256 ${sha256(pkg.app)}`,
          "",
        ].join("\n"),
      );
    });
}

function packageEsp32(options: BuildOptions): void {
  if (!options.moddableOut) throw new UsageError(`--board ${options.board} packages a Moddable build: give its ESP-IDF build directory with --moddable-out (make esp32 prints it)`);
  const pkg = packageModdableBuild(options.moddableOut, options.board as Esp32Board);
  if (options.version && options.version !== pkg.manifest.version) {
    throw new UsageError(`--version ${options.version} differs from the image's version ${pkg.manifest.version} (set it in manifest.json's build.VERSION)`);
  }
  fs.mkdirSync(options.out, { recursive: true });
  const zipPath = path.join(options.out, "fw.zip");
  fs.writeFileSync(zipPath, pkg.zip);
  process.stdout.write(
    [
      `packaged ${pkg.manifest.name} ${pkg.manifest.version} for ${options.board}`,
      `  build_id  ${pkg.manifest.build_id}`,
      `  parts     ${Object.keys(pkg.manifest.parts).join(", ")}`,
      `  wrote     ${zipPath}  ${pkg.zip.length} bytes  sha256 ${sha256(pkg.zip)}`,
      "",
    ].join("\n"),
  );
}
