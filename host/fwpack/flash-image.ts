// A factory flash image, as `esptool write_flash` of a fresh build would
// leave the chip: 0xFF everywhere, the partition table at 0x8000, otadata and
// NVS erased, the app in the partition the bootloader boots from blank
// otadata (factory if the table has one, otherwise ota_0). The region of the
// second-stage bootloader (0x1000) stays erased: the virtual board emulates
// the bootloader instead of running one.

import { verifyAppImage } from "./app-image.js";
import { FlashImageError, hex } from "./errors.js";
import { PARTITION_TABLE_OFFSET, encodePartitionTable, type Partition } from "./partition-table.js";
import { AppSubtype, PartitionType } from "./partition-types.js";
import { parsePartitionsCsv } from "./partitions-csv.js";

export const DEFAULT_FLASH_SIZE = 4 * 1024 * 1024;

export interface FactoryFlashOptions {
  partitionsCsv: string;
  /** An app image; it must verify (checksum, SHA-256, app descriptor) and fit its slot. */
  app: Uint8Array;
  flashSize?: number;
  tableOffset?: number;
}

/** The partition a blank otadata boots: factory, else ota_0 (bootloader_utility.c). */
export function firstBootPartition(partitions: readonly Partition[]): Partition | undefined {
  const app = (subtype: number) => partitions.find((p) => p.type === PartitionType.APP && p.subtype === subtype);
  return app(AppSubtype.FACTORY) ?? app(AppSubtype.OTA_0);
}

export function buildFactoryFlash(options: FactoryFlashOptions): Buffer {
  const { partitionsCsv, app, flashSize = DEFAULT_FLASH_SIZE, tableOffset = PARTITION_TABLE_OFFSET } = options;
  if (!Number.isInteger(flashSize) || flashSize <= 0 || flashSize % 0x1000 !== 0) {
    throw new FlashImageError(`flash size ${flashSize} is not a positive multiple of 4 KB`);
  }
  const partitions = parsePartitionsCsv(partitionsCsv, { tableOffset, flashSize });
  const slot = firstBootPartition(partitions);
  if (!slot) throw new FlashImageError("the partition table has no factory or ota_0 app partition to hold the app");
  if (app.length > slot.size) {
    throw new FlashImageError(`app of ${hex(app.length)} bytes does not fit partition "${slot.name}" (${hex(slot.size)} bytes)`);
  }
  try {
    verifyAppImage(app, { partitionSize: slot.size });
  } catch (error) {
    throw new FlashImageError(`app for partition "${slot.name}" is not a valid image: ${(error as Error).message}`);
  }

  const flash = Buffer.alloc(flashSize, 0xff);
  encodePartitionTable(partitions).copy(flash, tableOffset);
  flash.set(app, slot.offset);
  return flash;
}
