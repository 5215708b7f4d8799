// xs-ota build: the firmware as an OTA package (fw.zip, mos format) plus the
// bare app image, for the virtual board. Real ESP32 images come from
// Moddable's mcconfig and ESP-IDF (`make esp32`), not from here.
// Honours SOURCE_DATE_EPOCH, so a release build can be reproduced byte for byte.

import { createHash } from "node:crypto";
import fs from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { DEFAULT_MANIFEST, buildFirmwarePackage } from "../vboard/firmware-package.ts";

interface BuildOptions {
  board: "virtual";
  version: string;
  out: string;
  manifest: string;
}

function boardOption(value: string): "virtual" {
  if (value === "virtual") return value;
  if (value === "esp32") {
    throw new InvalidArgumentError("esp32 images are not built by xs-ota build yet; they come from `make esp32` (Moddable's mcconfig with ESP-IDF). Use --board virtual.");
  }
  throw new InvalidArgumentError(`unknown board "${value}"; xs-ota build knows only "virtual" for now`);
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
    .description("build the firmware and package it for OTA: DIR/fw.zip (mos format) and DIR/app.bin")
    .addOption(new Option("--board <name>", "target board (only virtual for now; esp32 images come from make esp32)").argParser(boardOption).default("virtual"))
    .requiredOption("--version <version>", "firmware version, e.g. 1.2.0 (esp_app_desc_t.version and the manifest's version)", versionOption)
    .option("--out <dir>", "output directory", "build")
    .option("--manifest <file>", "Moddable manifest of the firmware", DEFAULT_MANIFEST)
    .addHelpText("after", "\nExamples:\n  xs-ota build --version 1.2.0 --out build/1.2.0\n  xs-ota fwinfo build/1.2.0/fw.zip")
    .action(async (options: BuildOptions) => {
      if (!fs.existsSync(options.manifest)) throw new Error(`no manifest at ${options.manifest}`);
      const pkg = await buildFirmwarePackage({ version: options.version, manifestPath: options.manifest, out: options.out, builtAt: buildTime() });
      const { manifest, files } = pkg;
      process.stdout.write(
        [
          `built ${manifest.name} ${manifest.version} for the ${options.board} board`,
          `  build_id  ${manifest.build_id}`,
          `  wrote     ${files!.zip}  ${pkg.zip.length} bytes  sha256 ${sha256(pkg.zip)}`,
          `  wrote     ${files!.app}  ${pkg.app.length} bytes  sha256 ${sha256(pkg.app)}`,
          "",
        ].join("\n"),
      );
    });
}
