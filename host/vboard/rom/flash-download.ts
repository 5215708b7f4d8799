// One FLASH_BEGIN..FLASH_END (or FLASH_DEFL_*) session: where the data goes
// and when the flash under it is erased. The two loaders differ (serial-
// protocol.rst, "Writing Data"; esp-flasher-stub command_handler.c):
//   ROM:  FLASH_BEGIN erases everything it names before answering; each block
//         lands at offset + seq * block size.
//   stub: erases just in time, sector by sector ahead of the data, skipping
//         sectors that are already blank until it meets a used one; blocks are
//         written in arrival order and the padding past `size` is dropped.

import { Inflater } from "./inflater.ts";
import { BLOCK_SIZE, SECTOR_SIZE, type NorFlashFile } from "./nor-flash-file.ts";

export type LoaderKind = "rom" | "stub";

export type DownloadFailure = "out-of-range" | "too-much-data" | "not-finished" | "inflate";

export class DownloadError extends Error {
  constructor(
    readonly failure: DownloadFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadBegin {
  /** ROM: bytes to erase; stub: exact bytes that will be written (uncompressed). */
  size: number;
  blocks: number;
  blockSize: number;
  offset: number;
  compressed: boolean;
}

const alignDown = (n: number, a: number) => n - (n % a);
const alignUp = (n: number, a: number) => alignDown(n + a - 1, a);

export class FlashDownload {
  readonly #flash: NorFlashFile;
  readonly #kind: LoaderKind;
  readonly #begin: DownloadBegin;
  readonly #inflater: Inflater | undefined;
  /** Where the next byte goes (sequential writes: stub, and inflated data). */
  #cursor: number;
  #remaining: number;
  /** Stub's erase state: next sector to erase, end of the range, and whether a used sector was met. */
  #nextErase: number;
  readonly #eraseEnd: number;
  #dirtySeen = false;

  constructor(flash: NorFlashFile, kind: LoaderKind, begin: DownloadBegin) {
    this.#flash = flash;
    this.#kind = kind;
    this.#begin = begin;
    this.#cursor = begin.offset;
    this.#remaining = begin.size;
    this.#inflater = begin.compressed ? new Inflater() : undefined;
    this.#nextErase = alignDown(begin.offset, SECTOR_SIZE);
    this.#eraseEnd = alignUp(begin.offset + begin.size, SECTOR_SIZE);
    if (this.#eraseEnd > flash.size) {
      throw new DownloadError("out-of-range", `0x${begin.size.toString(16)} bytes at 0x${begin.offset.toString(16)} end past the ${flash.size >> 20} MB flash`);
    }
    if (kind === "rom") {
      flash.erase(this.#nextErase, this.#eraseEnd - this.#nextErase);
      this.#nextErase = this.#eraseEnd;
    }
  }

  /** Bytes still expected (stub END refuses to finish before they came). */
  get remaining(): number {
    return this.#remaining;
  }

  /** One *_DATA block (already checksum-verified). */
  async data(seq: number, payload: Buffer): Promise<void> {
    if (this.#inflater) {
      let inflated: Buffer;
      try {
        inflated = await this.#inflater.push(payload);
      } catch (e) {
        throw new DownloadError("inflate", `deflate stream broken at block ${seq}: ${(e as Error).message}`);
      }
      this.#write(inflated, this.#cursor);
    } else if (this.#kind === "rom") {
      this.#write(payload, this.#begin.offset + seq * this.#begin.blockSize);
    } else {
      this.#write(payload.subarray(0, Math.min(payload.length, this.#remaining)), this.#cursor);
    }
  }

  /** FLASH_END / FLASH_DEFL_END: the stub insists that everything announced arrived. */
  end(): void {
    this.close();
    if (this.#kind === "stub" && this.#remaining !== 0) {
      throw new DownloadError("not-finished", `0x${this.#remaining.toString(16)} of 0x${this.#begin.size.toString(16)} bytes never arrived`);
    }
  }

  /** Drop the session (a new one begins, or the loader leaves). */
  close(): void {
    this.#inflater?.close();
  }

  #write(bytes: Buffer, address: number): void {
    if (bytes.length === 0) return;
    const end = address + bytes.length;
    if (this.#kind === "stub" && bytes.length > this.#remaining) {
      throw new DownloadError("too-much-data", `0x${bytes.length.toString(16)} bytes at 0x${address.toString(16)} exceed the 0x${this.#begin.size.toString(16)} announced`);
    }
    if (end > this.#flash.size) throw new DownloadError("out-of-range", `write at 0x${address.toString(16)} ends past the flash`);
    if (this.#kind === "stub") this.#eraseUpTo(end);
    this.#flash.program(address, bytes);
    this.#cursor = end;
    this.#remaining = Math.max(0, this.#remaining - bytes.length);
  }

  /** The stub's just-in-time erase: 64 KB blocks where aligned, else 4 KB sectors. */
  #eraseUpTo(target: number): void {
    while (this.#nextErase < Math.min(target, this.#eraseEnd)) {
      const at = this.#nextErase;
      if (!this.#dirtySeen) {
        if (this.#flash.isErased(at, SECTOR_SIZE)) {
          this.#nextErase += SECTOR_SIZE;
          continue;
        }
        this.#dirtySeen = true;
      }
      const unit = at % BLOCK_SIZE === 0 && this.#eraseEnd - at >= BLOCK_SIZE ? BLOCK_SIZE : SECTOR_SIZE;
      this.#flash.erase(at, unit);
      this.#nextErase += unit;
    }
  }
}
