// The flash timing model's table (typical W25Q32JV figures), read from its
// one source, the emulated IDF's header host/vboard/idf/include/vb_idf.h, so
// the host's flash-bound time and the board's modelled time cannot disagree.

import fs from "node:fs";
import { fileURLToPath } from "node:url";

const HEADER = fileURLToPath(new URL("../host/vboard/idf/include/vb_idf.h", import.meta.url));

export interface FlashTimingTable {
  readonly sectorSize: number;
  readonly blockSize: number;
  readonly pageSize: number;
  readonly sectorEraseNs: number;
  readonly blockEraseNs: number;
  readonly pageProgramNs: number;
  readonly busNsPerByte: number;
}

function define(header: string, name: string): number {
  const m = new RegExp(`#define ${name} (0x[0-9a-fA-F]+|\\d+)(u|ull)?\\b`).exec(header);
  if (!m) throw new Error(`${HEADER} has no #define ${name}`);
  return Number(m[1]);
}

export function flashTimingTable(): FlashTimingTable {
  const h = fs.readFileSync(HEADER, "utf8");
  return {
    sectorSize: define(h, "VB_FLASH_SECTOR_SIZE"),
    blockSize: define(h, "VB_FLASH_BLOCK_SIZE"),
    pageSize: define(h, "VB_FLASH_PAGE_SIZE"),
    sectorEraseNs: define(h, "VB_FLASH_SECTOR_ERASE_NS"),
    blockEraseNs: define(h, "VB_FLASH_BLOCK_ERASE_NS"),
    pageProgramNs: define(h, "VB_FLASH_PAGE_PROGRAM_NS"),
    busNsPerByte: define(h, "VB_FLASH_BUS_NS_PER_BYTE"),
  };
}

/**
 * The least flash time an image of `bytes` can take at a 64 KB aligned slot
 * start: its sectors erased (block erases where 64 KB fit, as
 * esp_flash_erase_region does), then programmed page by page, once.
 */
export function flashBoundNs(t: FlashTimingTable, bytes: number): { eraseNs: number; programNs: number } {
  const erased = Math.ceil(bytes / t.sectorSize) * t.sectorSize;
  const blocks = Math.floor(erased / t.blockSize);
  const sectors = (erased - blocks * t.blockSize) / t.sectorSize;
  return {
    eraseNs: blocks * t.blockEraseNs + sectors * t.sectorEraseNs,
    programNs: Math.ceil(bytes / t.pageSize) * t.pageProgramNs + bytes * t.busNsPerByte,
  };
}
