// Flashing a board through its ROM serial loader with esptool-js, over a Node
// serial port: connect (the auto-reset dance, SYNC), identify the chip, run
// the flasher stub, raise the baud rate, then write every image compressed
// and check each one's MD5 against what the flash holds (or only compare
// MD5s: verify; or read regions back), then reset into the app.
//
// The connection is esptool-js's ESPLoader.main() step by step, for one knob
// main() lacks: how many connect attempts (esptool's --connect-attempts), so
// a board that never answers fails in a second instead of ten.

import { createHash } from "node:crypto";
import { ESPError, ESPLoader, Transport, type IEspLoaderTerminal } from "esptool-js";
import { chipName } from "ota/image-check";
import { ChipId } from "../fwpack/image-header.ts";
import { EFUSE_RD_REG_BASE, VIRTUAL_BOARD_MARK } from "../vboard/rom/esp32-registers.ts";
import type { FlashImage } from "./flash-plan.ts";
import { PortOpenError, WebSerialPort } from "./web-serial-port.ts";

/** The ROM loader listens at 115200 baud; the stub then runs at whatever CHANGE_BAUDRATE says. */
export const ROM_BAUD = 115200;
const RUN_USER_CODE = 0xd3;
/** esptool's hard reset: EN held low this long. */
const RESET_PULSE_MS = 100;
/** The stub sends its MD5 right after the last data packet. */
const READ_DIGEST_TIMEOUT_MS = 3000;

export interface FlashProgress {
  /** An image starts: `total` bytes go over the wire (compressed). */
  start(image: FlashImage, total: number): void;
  update(written: number): void;
  /** The image is written and the flash's MD5 matched it. */
  verified(image: FlashImage): void;
  /** Writing stopped on an error. */
  stop(): void;
}

/** What every session with the loader needs: the port, speeds, and what to narrate. */
export interface LoaderJob {
  port: string;
  baudRate: number;
  /** The chip the images are for (image header chip_id): a board of another kind is refused before anything is done. */
  chipId?: number;
  connectAttempts: number;
  /** esptool-js's own narration (chip, stub, baud...), line by line. */
  log?: (line: string) => void;
}

export interface FlashJob extends LoaderJob {
  images: readonly FlashImage[];
  /** Erase the whole chip before writing. */
  eraseAll: boolean;
  progress?: FlashProgress;
}

export interface FlashReport {
  chip: string;
  mac: string;
  /** How the board was sent into its app: the RTS line, or (no modem lines) the stub's RUN_USER_CODE. */
  reset: "rts" | "run-user-code";
}

/** A region of flash to read back. */
export interface FlashRegion {
  readonly address: number;
  readonly size: number;
}

export interface ReadJob extends LoaderJob {
  regions: readonly FlashRegion[];
  /** Bytes of the region `index` read so far. */
  progress?: (index: number, read: number, size: number) => void;
}

export interface VerifyResult {
  readonly image: FlashImage;
  /** MD5 of the flash over the image's length, and of the image. */
  readonly flashMd5: string;
  readonly fileMd5: string;
}

/** Flashing failed; the message says what happened and what to try. */
export class FlashError extends Error {
  override readonly name = "FlashError";
}

/** The board is of another chip than the images (a usage error: exit status 2); nothing was written. */
export class WrongChipError extends FlashError {}

/** Write the job's images, each MD5-checked, and reset into the app. */
export function flashBoard(job: FlashJob): Promise<FlashReport> {
  return withLoader(job, (loader, said) => write(loader, job, said)).then(({ report }) => report);
}

/** Compare each image's MD5 with the flash's over its length, writing nothing. */
export function verifyBoard(job: LoaderJob & { images: readonly FlashImage[] }): Promise<FlashReport & { results: VerifyResult[] }> {
  return withLoader(job, async (loader) => {
    const results: VerifyResult[] = [];
    for (const image of job.images) {
      const flashMd5 = await loader.flashMd5sum(image.address, image.data.length);
      results.push({ image, flashMd5, fileMd5: md5(image.data) });
    }
    return results;
  }).then(({ report, result }) => ({ ...report, results: result }));
}

/** Read each region back (READ_FLASH, its data checked against the stub's MD5 of it). */
export function readBoard(job: ReadJob): Promise<FlashReport & { data: Buffer[] }> {
  return withLoader(job, async (loader) => {
    const data: Buffer[] = [];
    for (const [index, region] of job.regions.entries()) data.push(await readRegion(loader, region, (read) => job.progress?.(index, read, region.size)));
    return data;
  }).then(({ report, result }) => ({ ...report, data: result }));
}

/**
 * esptool-js's readFlash returns once the data is in, leaving the stub's
 * last packet (the MD5 of what it sent, as esptool's read_flash checks it)
 * unread, where the next command would take it for its reply: it is read
 * and checked here.
 */
async function readRegion(loader: ESPLoader, region: FlashRegion, progress: (read: number) => void): Promise<Buffer> {
  const data = Buffer.from(await loader.readFlash(region.address, region.size, (_packet, read) => progress(read)));
  const digest = await loader.transport.read(READ_DIGEST_TIMEOUT_MS);
  if (!(digest instanceof Uint8Array) || digest.length !== 16) {
    throw new FlashError(`reading 0x${region.address.toString(16)}: the loader did not send the MD5 of what it read`);
  }
  const expected = Buffer.from(digest).toString("hex");
  if (expected !== md5(data)) {
    throw new FlashError(`reading 0x${region.address.toString(16)}: the data's MD5 is ${md5(data)}, the flash's ${expected}: the transfer was corrupted; read again, with a lower --baud if it repeats`);
  }
  return data;
}

function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** Connect, run `action` on the stub, reset into the app; errors explained, the port always closed. */
async function withLoader<T>(job: LoaderJob, action: (loader: ESPLoader, said: string[]) => Promise<T>): Promise<{ report: FlashReport; result: T }> {
  const device = new WebSerialPort(job.port);
  const transport = new Transport(device as unknown as ConstructorParameters<typeof Transport>[0]);
  // Transport.trace() prints with console.log even with tracing off (its read loop's farewell): keep stdout clean.
  transport.trace = (message: string) => job.log?.(`trace: ${message}`);
  const said: string[] = [];
  const terminal: IEspLoaderTerminal = {
    clean: () => {},
    writeLine: (line) => {
      said.push(line);
      job.log?.(line);
    },
    write: (text) => job.log?.(text),
  };
  const loader = new ESPLoader({ transport, baudrate: job.baudRate, romBaudrate: ROM_BAUD, terminal });
  try {
    const { chip, mac } = await connect(loader, job);
    const result = await action(loader, said);
    const reset = await resetIntoApp(loader, device);
    return { report: { chip, mac, reset }, result };
  } catch (e) {
    throw explain(e, job);
  } finally {
    await transport.disconnect().catch(() => undefined);
  }
}

async function connect(loader: ESPLoader, job: LoaderJob): Promise<{ chip: string; mac: string }> {
  await loader.detectChip("default_reset", job.connectAttempts);
  const board = await boardChipId(loader);
  if (job.chipId !== undefined && board !== job.chipId) {
    const what = board === ChipId.VIRTUAL_BOARD ? "a virtual board" : `an ${loader.chip.CHIP_NAME}`;
    throw new WrongChipError(
      `the images are built for chip id ${job.chipId} (${chipName(job.chipId)}), but the board is ${what} (chip id ${board}): nothing was written`,
    );
  }
  const description = await loader.chip.getChipDescription(loader);
  const chip = board === ChipId.VIRTUAL_BOARD ? `virtual board (${description} to esptool)` : description;
  const features = (await loader.chip.getChipFeatures(loader)).map((f) => f.trim()).join(", ");
  const mac = await loader.chip.readMac(loader);
  job.log?.(`Chip is ${chip}: ${features}; crystal ${await loader.chip.getCrystalFreq(loader)} MHz; MAC ${mac}`);
  await loader.chip.postConnect?.(loader);
  await loader.runStub();
  if (job.baudRate !== ROM_BAUD) await loader.changeBaud();
  const flashId = await loader.readFlashId();
  if (flashId === 0 || flashId === 0xffffff) throw new FlashError("the chip answers but its flash does not (flash id " + flashId.toString(16) + "): check the flash chip and whatever else is wired to its pins");
  return { chip, mac };
}

/** The chip id the board's apps must carry: its ROM's, or the virtual board's, which answers as an ESP32 with its mark in eFuse. */
async function boardChipId(loader: ESPLoader): Promise<number> {
  const rom = loader.chip.IMAGE_CHIP_ID!;
  if (rom !== ChipId.ESP32) return rom;
  const word = await loader.readReg(EFUSE_RD_REG_BASE + 4 * VIRTUAL_BOARD_MARK.efuseWord);
  return (word & VIRTUAL_BOARD_MARK.mask) >>> 0 === VIRTUAL_BOARD_MARK.value ? ChipId.VIRTUAL_BOARD : rom;
}

async function write(loader: ESPLoader, job: FlashJob, said: string[]): Promise<void> {
  const images = job.images;
  // esptool-js reports (file, 0, total) as a file starts, which is after the previous one's MD5 check.
  let current: number | undefined;
  try {
    await loader.writeFlash({
      fileArray: images.map((i) => ({ data: i.data, address: i.address })),
      flashMode: "keep",
      flashFreq: "keep",
      flashSize: "keep",
      eraseAll: job.eraseAll,
      compress: true,
      reportProgress: (index, written, total) => {
        if (written !== 0) return job.progress?.update(written);
        if (current !== undefined) job.progress?.verified(images[current]!);
        current = index;
        job.progress?.start(images[index]!, total);
      },
      calculateMD5Hash: md5,
    });
  } catch (e) {
    job.progress?.stop();
    if (e instanceof ESPError && /MD5 of file does not match/.test(e.message)) {
      const last = (prefix: string) => said.filter((l) => l.startsWith(prefix)).pop()?.slice(prefix.length).trim() ?? "?";
      const image = images[current ?? 0]!;
      throw new FlashError(
        `MD5 mismatch for the ${image.name} at 0x${image.address.toString(16)}: the flash holds ${last("Flash md5:")}, the file ${last("File  md5:")}. ` +
          "The transfer was corrupted (a bad cable, a baud rate too high for it, or failing flash); the board was left in download mode: flash it again, with a lower --baud if it repeats.",
      );
    }
    throw e;
  }
  if (current !== undefined) job.progress?.verified(images[current]!);
}

/**
 * esptool's hard reset: RTS pulls EN low with DTR (GPIO0) released, so the
 * chip boots from flash. Where there are no modem lines (a pseudo-terminal,
 * a bare adapter), the stub's RUN_USER_CODE asks the loader itself to leave.
 */
async function resetIntoApp(loader: ESPLoader, device: WebSerialPort): Promise<FlashReport["reset"]> {
  await device.setSignals({ dataTerminalReady: false, requestToSend: true });
  await new Promise((r) => setTimeout(r, RESET_PULSE_MS));
  await device.setSignals({ requestToSend: false });
  if (device.hasModemLines) return "rts";
  await loader.command(RUN_USER_CODE, new Uint8Array(0), 0, false);
  return "run-user-code";
}

function explain(e: unknown, job: LoaderJob): Error {
  if (e instanceof FlashError || e instanceof PortOpenError) return e;
  const message = (e as Error).message ?? String(e);
  if (/Failed to connect with the device/.test(message)) {
    return new FlashError(
      `no answer to SYNC on ${job.port}: is the board in download mode? Hold BOOT (GPIO0) and press EN/RESET, ` +
        "or check that this is the board's port and that nothing else holds it",
    );
  }
  return new FlashError(`flashing over ${job.port} failed: ${message}`);
}
