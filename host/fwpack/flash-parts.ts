// The parts of a mos ESP32 fw.zip that only a flasher writes, beside the app
// (spec/mos-rpc.md §3.2; MGOS platforms/esp32xx/Makefile.build FW_PARTS): the
// second-stage bootloader at the address the chip's ROM loads it from, the
// partition table at 0x8000, the initial otadata in its partition. `mos
// flash` needs the `pt` part to place every part named by `ptn` (mos
// cli/flash/esp32/partitions.go: "no partition table in the fw bundle"), so a
// package without it cannot flash a blank board.
//
// Each carries update: false. mgos's device reads it on `boot` only (and
// ignores pt and otadata whatever it says); ours refuses a boot part with
// update: true and skips every part but the app (modules/ota/fw-manifest.ts).
// On pt and otadata it says the same to any other reader of the manifest.

import { FlashImageError, hex } from "./errors.js";
import type { FwZipFile } from "./fw-zip.js";
import { OTADATA_SIZE } from "./otadata.js";
import { PARTITION_TABLE_OFFSET, decodePartitionTable } from "./partition-table.js";

/** The label mos's flasher resolves the otadata part's `ptn` to; ESP-IDF's CSVs use it too. */
export const OTADATA_PARTITION = "otadata";
/** The label of the first app slot in our partition tables (mos's is app_0); OTA ignores it. */
export const APP_PARTITION = "ota_0";

export interface FlashPartsSource {
  /** The second-stage bootloader and where the ROM loads it; absent for the virtual board, which emulates it. */
  boot?: { data: Uint8Array; addr: number };
  /** The binary partition table (partition-table.bin). */
  pt: Uint8Array;
  /** The initial otadata (ota_data_initial.bin): erased, so the bootloader boots ota_0. */
  otadata: Uint8Array;
}

/**
 * The fw.zip files for boot (when given), pt and otadata, after checking the
 * table has what the package's `ptn`s name: otadata (of the file's size),
 * the app's slot, and a second slot to update into.
 */
export function flashParts(source: FlashPartsSource): FwZipFile[] {
  const { partitions } = decodePartitionTable(source.pt);
  const otadata = partitions.find((p) => p.name === OTADATA_PARTITION);
  if (!otadata) throw new FlashImageError(`the partition table has no "${OTADATA_PARTITION}" partition for the otadata part`);
  if (source.otadata.length !== OTADATA_SIZE || otadata.size < OTADATA_SIZE) {
    throw new FlashImageError(`otadata is ${source.otadata.length} bytes for a partition of ${hex(otadata.size)}; ESP-IDF's is ${hex(OTADATA_SIZE)}`);
  }
  if (!partitions.some((p) => p.name === APP_PARTITION)) throw new FlashImageError(`the partition table has no "${APP_PARTITION}" partition for the app part`);
  if (!partitions.some((p) => p.name === "ota_1")) throw new FlashImageError("the partition table has no ota_1: OTA needs two app slots (see boards/<board>/partitions.csv)");
  const files: FwZipFile[] = [];
  if (source.boot) {
    files.push({ part: "boot", src: "bootloader.bin", data: source.boot.data, attrs: { type: "boot", addr: source.boot.addr, encrypt: true, update: false } });
  }
  files.push(
    { part: "pt", src: "partition-table.bin", data: source.pt, attrs: { type: "pt", addr: PARTITION_TABLE_OFFSET, encrypt: true, update: false } },
    { part: "otadata", src: "ota_data_initial.bin", data: source.otadata, attrs: { type: "otadata", ptn: OTADATA_PARTITION, encrypt: true, update: false } },
  );
  return files;
}
