// xs-ota flash: write a board's flash through its ROM serial loader, as
// `idf.py flash` / esptool write_flash do, with esptool-js: a real board on
// its USB-serial port, or the virtual board on its pseudo-terminal (which
// enters download mode on the SYNC; host/vboard/download-mode.ts).

import fs from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { UsageError, type GlobalOptions } from "../cli/connect.ts";
import { MANIFEST, PARTITIONS_CSV, firmwareVersion } from "../vboard/assets.ts";
import { buildFirmwareImage } from "../vboard/firmware.ts";
import { WrongChipError, flashBoard, readBoard, verifyBoard, type FlashReport, type LoaderJob } from "./esp-flasher.ts";
import { FlashPlanError, describeImage, planFlash } from "./flash-plan.ts";
import { flashProgress, readProgress } from "./flash-progress.ts";

interface FlashOptions {
  baud: number;
  erase?: boolean;
  image?: string[];
  verify?: boolean;
  read?: ReadRequest[];
  connectAttempts: number;
}

/** --read ADDRESS:SIZE:FILE */
interface ReadRequest {
  address: number;
  size: number;
  file: string;
}

function flashNumber(text: string, what: string, spec: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} of ${spec} is not a number (decimal or 0x hex): ${text}`);
  return n;
}

function readRequest(spec: string, previous: ReadRequest[] | undefined): ReadRequest[] {
  const match = /^([^:]+):([^:]+):(.+)$/.exec(spec);
  if (!match) throw new InvalidArgumentError(`not ADDRESS:SIZE:FILE: ${spec}`);
  const address = flashNumber(match[1]!, "the address", spec);
  const size = flashNumber(match[2]!, "the size", spec);
  if (size === 0) throw new InvalidArgumentError(`the size of ${spec} is 0`);
  return [...(previous ?? []), { address, size, file: match[3]! }];
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

export function registerFlashCommand(program: Command): void {
  program
    .command("flash")
    .description("write bootloader (if any), partition table, blank otadata and app (or every part of a fw.zip) through the ROM serial loader (esptool-js), verify each by MD5, reset into the app; or only --verify them, or --read flash back")
    .option("--baud <n>", "baud rate while writing (the ROM starts at 115200)", positiveInteger, 460800)
    .option("--erase", "erase the whole flash first")
    .option(
      "--image <path...>",
      "a fw.zip (each part at its addr or ptn, as mos flash writes it), an ESP-IDF build directory, a directory of .bin files, or files (app, bootloader, partition table); default: this repository's firmware for the virtual board",
    )
    .option("--verify", "only compare the images (but otadata, the boot state) with the flash by MD5: write nothing, exit 1 if any differs")
    .option("--read <address:size:file>", "only read flash back into a file (repeatable), e.g. 0x8000:0xc00:pt.bin; the stub's MD5 checks the transfer", readRequest)
    .option("--connect-attempts <n>", "reset-and-SYNC attempts before giving up", positiveInteger, 7)
    .addHelpText(
      "after",
      "\nExamples:\n  xs-ota --port build/vboard/uart flash                 # the virtual board (xs-ota sim)\n" +
        "  xs-ota --port build/vboard/uart flash --image build/v2/fw.zip   # xs-ota build's (or mos build's) package\n" +
        "  xs-ota --port /dev/ttyUSB0 flash --image build/v2/app.bin\n  xs-ota --port /dev/ttyUSB0 flash --erase --image path/to/esp-idf/build\n" +
        "  xs-ota --port /dev/ttyUSB0 flash --verify --image build/v2/fw.zip    # does the board hold this package?\n" +
        "  xs-ota --port build/vboard/uart flash --read 0x8000:0xc00:pt.bin --read 0xd000:0x2000:otadata.bin",
    )
    .action(async (options: FlashOptions) => {
      const global = program.opts<GlobalOptions>();
      const port = serialPath(global.port ?? process.env.XS_OTA_PORT);
      const session: LoaderJob = {
        port,
        baudRate: options.baud,
        connectAttempts: options.connectAttempts,
        log: global.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
      };
      if (options.read) {
        if (options.image || options.erase || options.verify) throw new UsageError("--read reads only: it takes no --image, --erase or --verify");
        return readToFiles(session, options.read);
      }
      if (options.verify && options.erase) throw new UsageError("--verify writes nothing: it takes no --erase");
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
      const job = { ...session, images, chipId };
      if (options.verify) {
        // otadata is the board's boot state: flashing writes it blank, and every boot or OTA after may change it.
        const compared = images.filter((image) => image.name !== "otadata");
        for (const image of images.filter((i) => !compared.includes(i))) process.stdout.write(`skipped   ${describeImage(image)}: the boot state, which the board writes\n`);
        const report = await verifyBoard({ ...job, images: compared }).catch(wrongChipIsUsage);
        const differing = report.results.filter((r) => r.flashMd5 !== r.fileMd5);
        for (const r of report.results) {
          process.stdout.write(`${r.flashMd5 === r.fileMd5 ? "same     " : "DIFFERENT"} ${describeImage(r.image)}: flash ${r.flashMd5}, file ${r.fileMd5}\n`);
        }
        const verdict = `${compared.length - differing.length} of ${compared.length} images match`;
        if (differing.length) throw new Error(`${verdict}: ${differing.map((r) => r.image.name).join(", ")} differ${differing.length === 1 ? "s" : ""} from the flash`);
        process.stderr.write(`verified ${report.chip}, MAC ${report.mac}: ${verdict}; ${resetNote(report)}\n`);
        return;
      }
      const report = await flashBoard({ ...job, eraseAll: options.erase === true, progress: flashProgress() }).catch(wrongChipIsUsage);
      process.stderr.write(`flashed ${report.chip}, MAC ${report.mac}: ${images.length} images, each MD5-verified; ${resetNote(report)}\n`);
    });
}

function wrongChipIsUsage(e: Error): never {
  throw e instanceof WrongChipError ? new UsageError(e.message) : e;
}

function resetNote(report: FlashReport): string {
  return report.reset === "rts"
    ? "reset into the app (RTS)"
    : "the port has no RTS line: the loader was told to run the app (a board without auto-reset needs its EN button)";
}

async function readToFiles(session: LoaderJob, requests: ReadRequest[]): Promise<void> {
  process.stderr.write(`connecting to ${session.port} (reset into download mode, SYNC)...\n`);
  const progress = readProgress(requests);
  const report = await readBoard({ ...session, regions: requests, progress: progress.update }).finally(progress.stop);
  for (const [i, request] of requests.entries()) {
    fs.writeFileSync(request.file, report.data[i]!);
    process.stderr.write(`read 0x${request.address.toString(16)}..0x${(request.address + request.size).toString(16)} (${request.size} bytes, MD5-checked) into ${request.file}\n`);
  }
  process.stderr.write(`read ${report.chip}, MAC ${report.mac}; ${resetNote(report)}\n`);
}

/** Flashing speaks to the UART: serial:///dev/ttyUSB0 or a device path. */
function serialPath(port: string | undefined): string {
  if (!port) throw new UsageError("no port: pass --port (/dev/ttyUSB0, serial:///dev/ttyUSB0, or the virtual board's build/vboard/uart) or set XS_OTA_PORT");
  if (!port.includes("://")) return port;
  const url = URL.canParse(port) ? new URL(port) : undefined;
  if (url?.protocol === "serial:" && url.pathname) return decodeURIComponent(url.pathname);
  throw new UsageError(`flashing needs the board's serial port, not ${port}`);
}
