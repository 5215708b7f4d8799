// The rules a partition table must satisfy before it is written: those of
// gen_esp32part.py (alignment, unique names, no overlap, nothing under the
// table, one otadata of 0x2000, NVS of at least 0x3000 unless read-only) and
// those the OTA code relies on: OTA slots ota_0..ota_N without gaps or
// duplicates (esp_ota_get_app_partition_count() stops at the first gap while
// the bootloader counts them all), and an otadata partition when there are
// slots.

import { PartitionTableError, hex } from "./errors.js";
import { PARTITION_LABEL_SIZE, PARTITION_TABLE_OFFSET, PARTITION_TABLE_SECTOR_SIZE, type Partition } from "./partition-table.js";
import { DataSubtype, PartitionFlag, PartitionType, otaSlotOf } from "./partition-types.js";

export const APP_OFFSET_ALIGNMENT = 0x10000;
export const DATA_OFFSET_ALIGNMENT = 0x1000;
/** Without secure boot, an app partition's size is a multiple of the erase sector. */
export const APP_SIZE_ALIGNMENT = 0x1000;
export const OTADATA_PARTITION_SIZE = 0x2000;
export const NVS_RW_MIN_PARTITION_SIZE = 0x3000;

export function offsetAlignment(type: number): number {
  return type === PartitionType.APP ? APP_OFFSET_ALIGNMENT : DATA_OFFSET_ALIGNMENT;
}

export interface LayoutOptions {
  tableOffset?: number;
  flashSize?: number;
}

function range(p: Partition): string {
  return `${hex(p.offset)}..${hex(p.offset + p.size)}`;
}

function isTableItself(p: Partition): boolean {
  return (p.type === PartitionType.BOOTLOADER || p.type === PartitionType.PARTITION_TABLE) && p.subtype === 0x00;
}

function validateOne(p: Partition): void {
  const what = `partition "${p.name}"`;
  if (p.name === "") throw new PartitionTableError("a partition has an empty name");
  const labelBytes = Buffer.byteLength(p.name, "utf8");
  if (labelBytes > PARTITION_LABEL_SIZE) {
    throw new PartitionTableError(`${what}: the name is ${labelBytes} bytes; a label holds at most ${PARTITION_LABEL_SIZE}`);
  }
  if (!Number.isInteger(p.type) || p.type < 0 || p.type > 0xfe) {
    throw new PartitionTableError(`${what}: type ${p.type} is not in 0..0xFE`);
  }
  if (!Number.isInteger(p.subtype) || p.subtype < 0 || p.subtype > 0xff) {
    throw new PartitionTableError(`${what}: subtype ${p.subtype} is not in 0..0xFF`);
  }
  if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset > 0xffffffff) {
    throw new PartitionTableError(`${what}: offset ${p.offset} is not a 32-bit address`);
  }
  if (!Number.isInteger(p.size) || p.size <= 0) throw new PartitionTableError(`${what}: size ${p.size} is not a positive integer`);
  if (p.offset + p.size > 0x100000000) {
    throw new PartitionTableError(`${what}: ends at 0x${(p.offset + p.size).toString(16).toUpperCase()}, beyond the 32-bit address space`);
  }
  const align = offsetAlignment(p.type);
  if (p.offset % align !== 0) throw new PartitionTableError(`${what}: offset ${hex(p.offset)} is not aligned to ${hex(align)}`);
  if (p.type === PartitionType.APP && p.size % APP_SIZE_ALIGNMENT !== 0) {
    throw new PartitionTableError(`${what}: size ${hex(p.size)} of an app partition is not a multiple of ${hex(APP_SIZE_ALIGNMENT)}`);
  }
  const readonly = (p.flags & PartitionFlag.READONLY) !== 0;
  if (p.type === PartitionType.DATA && readonly && (p.subtype === DataSubtype.OTA || p.subtype === DataSubtype.COREDUMP)) {
    throw new PartitionTableError(`${what}: otadata and coredump partitions are always read-write and cannot be readonly`);
  }
  if (p.type === PartitionType.DATA && p.subtype === DataSubtype.NVS && !readonly && p.size < NVS_RW_MIN_PARTITION_SIZE) {
    throw new PartitionTableError(`${what}: a read-write NVS partition needs at least ${hex(NVS_RW_MIN_PARTITION_SIZE)} bytes, not ${hex(p.size)} (or flag it readonly)`);
  }
}

/** Throws a PartitionTableError naming the first broken rule. */
export function validatePartitions(partitions: readonly Partition[], options: LayoutOptions = {}): void {
  const { tableOffset = PARTITION_TABLE_OFFSET, flashSize } = options;
  partitions.forEach(validateOne);

  const seen = new Set<string>();
  for (const p of partitions) {
    if (seen.has(p.name)) throw new PartitionTableError(`duplicate partition name "${p.name}"`);
    seen.add(p.name);
  }

  const tableEnd = tableOffset + PARTITION_TABLE_SECTOR_SIZE;
  const byOffset = [...partitions].sort((a, b) => a.offset - b.offset);
  let previous: Partition | undefined;
  for (const p of byOffset) {
    if (p.offset < tableEnd && !isTableItself(p)) {
      throw new PartitionTableError(`partition "${p.name}" at ${hex(p.offset)} is below the end of the partition table sector (${hex(tableEnd)})`);
    }
    if (previous && p.offset < previous.offset + previous.size) {
      throw new PartitionTableError(`partition "${p.name}" (${range(p)}) overlaps partition "${previous.name}" (${range(previous)})`);
    }
    if (flashSize !== undefined && p.offset + p.size > flashSize) {
      throw new PartitionTableError(`partition "${p.name}" (${range(p)}) ends beyond the flash size ${hex(flashSize)}`);
    }
    previous = p;
  }

  const otadata = partitions.filter((p) => p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA);
  if (otadata.length > 1) {
    throw new PartitionTableError(`more than one otadata partition (data, ota): ${otadata.map((p) => `"${p.name}"`).join(", ")}`);
  }
  if (otadata[0] && otadata[0].size !== OTADATA_PARTITION_SIZE) {
    throw new PartitionTableError(`otadata partition "${otadata[0].name}" must be ${hex(OTADATA_PARTITION_SIZE)} bytes, not ${hex(otadata[0].size)}`);
  }

  const slots = new Map<number, Partition>();
  for (const p of partitions) {
    const slot = otaSlotOf(p);
    if (slot === undefined) continue;
    const other = slots.get(slot);
    if (other) throw new PartitionTableError(`partitions "${other.name}" and "${p.name}" are both ota_${slot}`);
    slots.set(slot, p);
  }
  for (let slot = 0; slot < slots.size; slot++) {
    if (!slots.has(slot)) {
      const found = [...slots.keys()].sort((a, b) => a - b).map((s) => `ota_${s}`).join(", ");
      throw new PartitionTableError(`OTA slots must be ota_0..ota_${slots.size - 1} without gaps: ota_${slot} is missing (found ${found})`);
    }
  }
  if (slots.size > 0 && otadata.length === 0) {
    throw new PartitionTableError("OTA app partitions need an otadata partition (data, ota)");
  }
}
