// Flashing a board through its ROM serial loader with esptool-js, over a Node
// serial port: connect (the auto-reset dance, SYNC), identify the chip, run
// the flasher stub, raise the baud rate, write every image compressed, check
// each one's MD5 against what the flash holds, then reset into the app.
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

export interface FlashProgress {
  /** An image starts: `total` bytes go over the wire (compressed). */
  start(image: FlashImage, total: number): void;
  update(written: number): void;
  /** The image is written and the flash's MD5 matched it. */
  verified(image: FlashImage): void;
  /** Writing stopped on an error. */
  stop(): void;
}

export interface FlashJob {
  port: string;
  baudRate: number;
  images: readonly FlashImage[];
  /** The chip the images are for (image header chip_id): a board of another kind is refused before anything is written. */
  chipId?: number;
  /** Erase the whole chip before writing. */
  eraseAll: boolean;
  connectAttempts: number;
  progress?: FlashProgress;
  /** esptool-js's own narration (chip, stub, baud...), line by line. */
  log?: (line: string) => void;
}

export interface FlashReport {
  chip: string;
  mac: string;
  /** How the board was sent into its app: the RTS line, or (no modem lines) the stub's RUN_USER_CODE. */
  reset: "rts" | "run-user-code";
}

/** Flashing failed; the message says what happened and what to try. */
export class FlashError extends Error {
  override readonly name = "FlashError";
}

/** The board is of another chip than the images (a usage error: exit status 2); nothing was written. */
export class WrongChipError extends FlashError {}

export async function flashBoard(job: FlashJob): Promise<FlashReport> {
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
    await write(loader, job, said);
    const reset = await resetIntoApp(loader, device);
    return { chip, mac, reset };
  } catch (e) {
    throw explain(e, job);
  } finally {
    await transport.disconnect().catch(() => undefined);
  }
}

async function connect(loader: ESPLoader, job: FlashJob): Promise<{ chip: string; mac: string }> {
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
      calculateMD5Hash: (image) => createHash("md5").update(image).digest("hex"),
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

function explain(e: unknown, job: FlashJob): Error {
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
