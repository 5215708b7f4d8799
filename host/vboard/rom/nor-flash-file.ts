// The board's flash file as the serial loader sees it while no board process
// runs: the same NOR rules as host/vboard/idf/vb_flash.c (erase sets whole
// 4 KB sectors to 0xFF, programming can only clear bits). Programming ANDs the
// data in, as the chip does, so data written over an unerased sector comes
// out wrong and the host's MD5 check catches it.

import { createHash } from "node:crypto";
import fs from "node:fs";

export const SECTOR_SIZE = 0x1000;
export const BLOCK_SIZE = 0x10000;

export interface FlashFault {
  /** Invert the byte programmed at this flash address (once), as a failing SPI line would. */
  flipByteAt?: number;
}

export class NorFlashFile {
  readonly size: number;
  readonly #fd: number;
  #fault: FlashFault;

  constructor(path: string, fault: FlashFault = {}) {
    this.#fd = fs.openSync(path, "r+");
    this.size = fs.fstatSync(this.#fd).size;
    this.#fault = { ...fault };
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  read(address: number, length: number): Buffer {
    this.#check(address, length);
    const out = Buffer.alloc(length);
    fs.readSync(this.#fd, out, 0, length, address);
    return out;
  }

  isErased(address: number, length: number): boolean {
    return this.read(address, length).every((b) => b === 0xff);
  }

  /** Erase [address, address + length); both must be sector-aligned. */
  erase(address: number, length: number): void {
    if (address % SECTOR_SIZE || length % SECTOR_SIZE) throw new RangeError(`erase of 0x${length.toString(16)} bytes at 0x${address.toString(16)} is not sector-aligned`);
    this.#check(address, length);
    const ff = Buffer.alloc(Math.min(length, BLOCK_SIZE), 0xff);
    for (let at = address; at < address + length; at += ff.length) fs.writeSync(this.#fd, ff, 0, Math.min(ff.length, address + length - at), at);
  }

  program(address: number, data: Uint8Array): void {
    const cells = this.read(address, data.length);
    for (let i = 0; i < data.length; i++) cells[i]! &= data[i]!;
    const flip = this.#fault.flipByteAt;
    if (flip !== undefined && flip >= address && flip < address + data.length) {
      cells[flip - address] = ~data[flip - address]! & 0xff;
      this.#fault = {};
    }
    fs.writeSync(this.#fd, cells, 0, cells.length, address);
  }

  md5(address: number, length: number): Buffer {
    const hash = createHash("md5");
    for (let at = address; at < address + length; at += BLOCK_SIZE) hash.update(this.read(at, Math.min(BLOCK_SIZE, address + length - at)));
    return hash.digest();
  }

  #check(address: number, length: number): void {
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > this.size) {
      throw new RangeError(`0x${length.toString(16)} bytes at 0x${address.toString(16)} are outside the ${this.size >> 20} MB flash`);
    }
  }
}
