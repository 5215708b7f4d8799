// xs-ota flash: write a board's flash through its ROM serial loader, as
// `idf.py flash` / esptool write_flash do, with esptool-js: a real board on
// its USB-serial port, or the virtual board on its pseudo-terminal (which
// enters download mode on the SYNC; host/vboard/download-mode.ts).

import fs from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { UsageError, type GlobalOptions } from "../cli/connect.ts";
import { MANIFEST, PARTITIONS_CSV, firmwareVersion } from "../vboard/assets.ts";
import { buildFirmwareImage } from "../vboard/firmware.ts";
import { WrongChipError, flashBoard } from "./esp-flasher.ts";
import { FlashPlanError, planFlash } from "./flash-plan.ts";
import { flashProgress } from "./flash-progress.ts";

interface FlashOptions {
  baud: number;
  erase?: boolean;
  image?: string[];
  connectAttempts: number;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

export function registerFlashCommand(program: Command): void {
  program
    .command("flash")
    .description("write bootloader (if any), partition table, blank otadata and app (or every part of a fw.zip) through the ROM serial loader (esptool-js), verify each by MD5, reset into the app")
    .option("--baud <n>", "baud rate while writing (the ROM starts at 115200)", positiveInteger, 460800)
    .option("--erase", "erase the whole flash first")
    .option(
      "--image <path...>",
      "a fw.zip (each part at its addr or ptn, as mos flash writes it), an ESP-IDF build directory, a directory of .bin files, or files (app, bootloader, partition table); default: this repository's firmware for the virtual board",
    )
    .option("--connect-attempts <n>", "reset-and-SYNC attempts before giving up", positiveInteger, 7)
    .addHelpText(
      "after",
      "\nExamples:\n  xs-ota --port build/vboard/uart flash                 # the virtual board (xs-ota sim)\n" +
        "  xs-ota --port build/vboard/uart flash --image build/v2/fw.zip   # xs-ota build's (or mos build's) package\n" +
        "  xs-ota --port /dev/ttyUSB0 flash --image build/v2/app.bin\n  xs-ota --port /dev/ttyUSB0 flash --erase --image path/to/esp-idf/build",
    )
    .action(async (options: FlashOptions) => {
      const global = program.opts<GlobalOptions>();
      const port = serialPath(global.port ?? process.env.XS_OTA_PORT);
      const { images, chipId } = await planFlash({
        paths: options.image ?? [],
        partitionsCsv: fs.readFileSync(PARTITIONS_CSV, "utf8"),
        defaultApp: () => {
          process.stderr.write("building the firmware for the virtual board...\n");
          return buildFirmwareImage({ manifestPath: MANIFEST, version: firmwareVersion() });
        },
      }).catch((e: Error) => {
        throw e instanceof FlashPlanError ? new UsageError(e.message) : e;
      });
      process.stderr.write(`connecting to ${port} (reset into download mode, SYNC)...\n`);
      const report = await flashBoard({
        port,
        baudRate: options.baud,
        images,
        chipId,
        eraseAll: options.erase === true,
        connectAttempts: options.connectAttempts,
        progress: flashProgress(),
        log: global.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
      }).catch((e: Error) => {
        throw e instanceof WrongChipError ? new UsageError(e.message) : e;
      });
      process.stderr.write(
        `flashed ${report.chip}, MAC ${report.mac}: ${images.length} images, each MD5-verified; ` +
          (report.reset === "rts"
            ? "reset into the app (RTS)\n"
            : "the port has no RTS line: the loader was told to run the app (a board without auto-reset needs its EN button)\n"),
      );
    });
}

/** Flashing speaks to the UART: serial:///dev/ttyUSB0 or a device path. */
function serialPath(port: string | undefined): string {
  if (!port) throw new UsageError("no port: pass --port (/dev/ttyUSB0, serial:///dev/ttyUSB0, or the virtual board's build/vboard/uart) or set XS_OTA_PORT");
  if (!port.includes("://")) return port;
  const url = URL.canParse(port) ? new URL(port) : undefined;
  if (url?.protocol === "serial:" && url.pathname) return decodeURIComponent(url.pathname);
  throw new UsageError(`flashing needs the board's serial port, not ${port}`);
}
