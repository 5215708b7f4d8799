// The board's UART download mode, as the supervisor runs it. On a bench the
// USB-serial chip's DTR and RTS lines, through the dev board's auto-reset
// circuit, pull GPIO0 low and pulse EN: the chip resets into the ROM's serial
// loader, and esptool sends SYNC right after. A pseudo-terminal has no such
// lines, so the supervisor takes the SYNC itself as that circuit: a SLIP SYNC
// command arriving on the UART (unambiguous: 0xC0 never occurs in the mos
// framing, which is ASCII) resets the board into download mode. The SYNC that
// did it is lost, as bytes sent to a chip in reset are; the ROM prints its
// banner and answers the next one, which esptool sends 100 ms later.
//
// Download mode ends as on the chip: when the loader hands over to the app
// (the ROM's FLASH_END, the stub's RUN_USER_CODE), or when the host has gone
// quiet for a while, the stand-in for the RTS reset pulse or the reset button
// that a pseudo-terminal cannot carry.

import fs from "node:fs";
import { crc32 } from "rpc/crc32";
import { DEFAULT_FLASH_SIZE } from "../fwpack/index.ts";
import { Esp32Registers } from "./rom/esp32-registers.ts";
import { isSyncCommand, parseCommand } from "./rom/loader-protocol.ts";
import { NorFlashFile, type FlashFault } from "./rom/nor-flash-file.ts";
import { SerialLoader } from "./rom/serial-loader.ts";
import { SlipDecoder } from "./rom/slip.ts";

/** What the ROM prints when it starts with GPIO0 low (strapping 0x3 on a DevKitC). */
export const DOWNLOAD_BANNER =
  "ets Jun  8 2016 00:22:57\n\nrst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\nwaiting for download\n";

export const DEFAULT_IDLE_RESET_MS = 5000;

export interface DownloadModeOptions {
  flashPath: string;
  /** Fault injection for tests: the flash write path corrupts a byte. */
  fault?: FlashFault;
  /** After a host has talked to the loader, this long without a byte resets the board (default 5 s). */
  idleResetMs?: number;
  /** The loader's packets for the host, on the UART. */
  transmit(bytes: Buffer): void;
  /** Text the ROM prints on the UART (its banner), which the console shows too. */
  print(text: string): void;
  /** The supervisor's own remarks on what the loader did, for the console only. */
  note(line: string): void;
  /** Download mode is over: boot the app from flash. */
  boot(why: string): void;
}

/**
 * The factory MAC the board derives from its flash file's path
 * (host/vboard/idf/vb_system.c derive_default_mac): the eFuse esptool reads
 * must agree with what the firmware reports.
 */
export function boardMac(flashPath: string): Buffer {
  const h = crc32(Buffer.from(flashPath, "utf8"));
  return Buffer.from([0x24, 0x0a, 0xc4, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff]);
}

/** Watches UART input while the app runs for the SYNC that means "reset into download mode". */
export class SyncWatcher {
  readonly #decoder = new SlipDecoder(64);

  push(bytes: Uint8Array): boolean {
    return this.#decoder.push(bytes).some((packet) => {
      const command = parseCommand(packet);
      return command !== undefined && isSyncCommand(command);
    });
  }

  reset(): void {
    this.#decoder.reset();
  }
}

export class DownloadMode {
  readonly #options: DownloadModeOptions;
  readonly #watcher = new SyncWatcher();
  #flash: NorFlashFile | undefined;
  #loader: SerialLoader | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** A SYNC asked for the reset; more SYNCs before the ROM is up change nothing. */
  #requested = false;

  constructor(options: DownloadModeOptions) {
    this.#options = options;
  }

  get active(): boolean {
    return this.#loader !== undefined;
  }

  /** UART input while the app runs (or the ROM loops on a blank flash): true when it calls for download mode. */
  watch(bytes: Uint8Array): boolean {
    if (!this.#watcher.push(bytes) || this.#requested) return false;
    this.#requested = true;
    return true;
  }

  /** The chip has just reset with GPIO0 low: the ROM prints its banner and waits for a host. */
  enter(): void {
    if (this.active) return;
    this.#requested = false;
    const { flashPath } = this.#options;
    // A flash file that does not exist yet is a chip fresh from the factory: fully erased.
    if (!fs.existsSync(flashPath)) fs.writeFileSync(flashPath, Buffer.alloc(DEFAULT_FLASH_SIZE, 0xff));
    const flash = new NorFlashFile(flashPath, this.#options.fault);
    const registers = new Esp32Registers({ mac: boardMac(flashPath), flashSize: flash.size });
    this.#flash = flash;
    // A command still in flight when the power goes must not answer afterwards.
    const current = () => this.#loader === loader;
    const loader: SerialLoader = new SerialLoader(flash, registers, {
      send: (bytes) => current() && this.#options.transmit(bytes),
      note: (line) => current() && this.#options.note(line),
      run: (why) => current() && this.#finish(why),
    });
    this.#loader = loader;
    this.#options.print(DOWNLOAD_BANNER);
  }

  /** UART input while in download mode. */
  receive(bytes: Uint8Array): void {
    const loader = this.#loader;
    if (!loader) return;
    loader.receive(bytes);
    clearTimeout(this.#idleTimer);
    const idle = this.#options.idleResetMs ?? DEFAULT_IDLE_RESET_MS;
    this.#idleTimer = setTimeout(() => void loader.idle().then(() => this.#finish(`no host for ${idle / 1000} s: reset`)), idle);
  }

  /** Power off: leave without booting. */
  close(): void {
    clearTimeout(this.#idleTimer);
    this.#loader?.close();
    this.#loader = undefined;
    this.#flash?.close();
    this.#flash = undefined;
    this.#watcher.reset();
  }

  #finish(why: string): void {
    if (!this.active) return;
    this.close();
    this.#options.boot(why);
  }
}
