// The binary partition table at 0x8000: 32-byte esp_partition_info_t rows, an
// MD5 row, an end marker, 0xFF padding to 0xC00. Decoding follows the
// bootloader's esp_partition_table_verify(), encoding follows gen_esp32part.py.

import { createHash } from "node:crypto";
import { PartitionTableError, hex } from "./errors.js";
import { decodeFixedString, encodeFixedString } from "./fixed-string.js";

export interface Partition {
  /** The label, at most 16 bytes of UTF-8. */
  name: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  /** PartitionFlag bits; unknown bits are kept as read. */
  flags: number;
}

export const PARTITION_TABLE_OFFSET = 0x8000;
/** The table owns one flash sector; partitions start after it. */
export const PARTITION_TABLE_SECTOR_SIZE = 0x1000;
export const PARTITION_TABLE_MAX_LEN = 0xc00;
export const PARTITION_ENTRY_SIZE = 32;
export const PARTITION_MAGIC = 0x50aa;
export const PARTITION_MD5_MAGIC = 0xebeb;
/** Offset of the digest inside the MD5 row (ESP_PARTITION_MD5_OFFSET). */
export const PARTITION_MD5_OFFSET = 16;
export const PARTITION_LABEL_SIZE = 16;
/** 96 rows fit in 0xC00; one is the MD5 row, one the end marker. */
export const PARTITION_COUNT_MAX = PARTITION_TABLE_MAX_LEN / PARTITION_ENTRY_SIZE - 2;

const U32_MAX = 0xffffffff;

function checkField(p: Partition, field: "type" | "subtype" | "offset" | "size" | "flags", max: number): void {
  const value = p[field];
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PartitionTableError(`partition "${p.name}": ${field} ${value} is not an integer in 0..${hex(max)}`);
  }
}

export function encodePartitionEntry(p: Partition): Buffer {
  checkField(p, "type", 0xff);
  checkField(p, "subtype", 0xff);
  checkField(p, "offset", U32_MAX);
  checkField(p, "size", U32_MAX);
  checkField(p, "flags", U32_MAX);
  const row = Buffer.alloc(PARTITION_ENTRY_SIZE);
  row.writeUInt16LE(PARTITION_MAGIC, 0);
  row.writeUInt8(p.type, 2);
  row.writeUInt8(p.subtype, 3);
  row.writeUInt32LE(p.offset, 4);
  row.writeUInt32LE(p.size, 8);
  encodeFixedString(p.name, PARTITION_LABEL_SIZE, `partition label`, PartitionTableError, { terminated: false }).copy(row, 12);
  row.writeUInt32LE(p.flags, 28);
  return row;
}

/** The 0xC00-byte table: entries, MD5 row (unless md5 is false), 0xFF padding. */
export function encodePartitionTable(partitions: readonly Partition[], { md5 = true }: { md5?: boolean } = {}): Buffer {
  const max = md5 ? PARTITION_COUNT_MAX : PARTITION_COUNT_MAX + 1;
  if (partitions.length > max) {
    throw new PartitionTableError(`${partitions.length} partitions do not fit in the table (at most ${max})`);
  }
  const entries = Buffer.concat(partitions.map(encodePartitionEntry));
  const table = Buffer.alloc(PARTITION_TABLE_MAX_LEN, 0xff);
  entries.copy(table);
  if (md5) {
    const row = entries.length;
    table.writeUInt16LE(PARTITION_MD5_MAGIC, row);
    createHash("md5").update(entries).digest().copy(table, row + PARTITION_MD5_OFFSET);
  }
  return table;
}

export interface DecodedPartitionTable {
  partitions: Partition[];
  /** Whether an MD5 row was present (and, since decoding succeeded, matched). */
  md5: boolean;
}

/**
 * Reads a table as the bootloader does: rows until the end marker, at most one
 * MD5 row, which must match the MD5 of all rows before it. With flashSize,
 * partitions reaching past the flash are rejected as the bootloader does.
 */
export function decodePartitionTable(data: Uint8Array, { flashSize }: { flashSize?: number } = {}): DecodedPartitionTable {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const partitions: Partition[] = [];
  let md5 = false;
  const rowCount = PARTITION_TABLE_MAX_LEN / PARTITION_ENTRY_SIZE;
  for (let index = 0; index < rowCount; index++) {
    const at = index * PARTITION_ENTRY_SIZE;
    if (at + PARTITION_ENTRY_SIZE > bytes.length) {
      throw new PartitionTableError(`partition table truncated: row ${index} needs bytes ${hex(at)}..${hex(at + PARTITION_ENTRY_SIZE)}, have ${hex(bytes.length)}`);
    }
    const row = bytes.subarray(at, at + PARTITION_ENTRY_SIZE);
    const magic = row.readUInt16LE(0);
    if (magic === PARTITION_MAGIC) {
      const p: Partition = {
        name: decodeFixedString(row.subarray(12, 12 + PARTITION_LABEL_SIZE)),
        type: row[2]!,
        subtype: row[3]!,
        offset: row.readUInt32LE(4),
        size: row.readUInt32LE(8),
        flags: row.readUInt32LE(28),
      };
      if (flashSize !== undefined && (p.offset > flashSize || p.offset + p.size > flashSize)) {
        throw new PartitionTableError(`partition ${index} "${p.name}" at ${hex(p.offset)} size ${hex(p.size)} exceeds the flash size ${hex(flashSize)}`);
      }
      partitions.push(p);
    } else if (magic === PARTITION_MD5_MAGIC) {
      if (md5) throw new PartitionTableError(`row ${index}: only one MD5 row is allowed`);
      const computed = createHash("md5").update(bytes.subarray(0, at)).digest();
      const stored = row.subarray(PARTITION_MD5_OFFSET);
      if (!computed.equals(stored)) {
        throw new PartitionTableError(`row ${index}: MD5 mismatch: stored ${stored.toString("hex")}, computed ${computed.toString("hex")}`);
      }
      md5 = true;
    } else if (magic === 0xffff && row[2] === 0xff && row[3] === 0xff) {
      return { partitions, md5 };
    } else {
      throw new PartitionTableError(`row ${index}: invalid magic ${hex(magic, 4)}`);
    }
  }
  throw new PartitionTableError(`no end-of-table marker within ${hex(PARTITION_TABLE_MAX_LEN)} bytes`);
}
