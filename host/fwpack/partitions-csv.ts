// partitions.csv as ESP-IDF's gen_esp32part.py reads it: "name, type, subtype,
// offset, size, flags"; '#' comment lines; numbers as 0x.., decimal, 0o/0b,
// with a K or M suffix; type and subtype as keywords or numbers; an empty
// offset packs the partition after the previous one, aligned for its type; a
// negative size means "up to this absolute address". Differences, on purpose:
// $VARIABLES and surplus non-empty columns are rejected instead of expanded or
// ignored.

import { PartitionTableError, hex } from "./errors.js";
import { PARTITION_TABLE_OFFSET, PARTITION_TABLE_SECTOR_SIZE, type Partition } from "./partition-table.js";
import {
  DataSubtype,
  PartitionFlag,
  PartitionType,
  TYPE_KEYWORDS,
  partitionSubtypeName,
  partitionTypeName,
  subtypeKeywords,
} from "./partition-types.js";
import { offsetAlignment, validatePartitions } from "./partition-layout.js";

/** Where the ESP32 ROM loads the second-stage bootloader from (ESP_BOOTLOADER_OFFSET). */
export const ESP32_BOOTLOADER_OFFSET = 0x1000;

const FLAG_KEYWORDS: ReadonlyMap<string, number> = new Map([
  ["encrypted", PartitionFlag.ENCRYPTED],
  ["readonly", PartitionFlag.READONLY],
]);

export interface PartitionsCsvOptions {
  /** CONFIG_PARTITION_TABLE_OFFSET; 0x8000 by default. */
  tableOffset?: number;
  /** When given, validation also checks that every partition fits in the flash. */
  flashSize?: number;
  /** Run validatePartitions() on the result (default true). */
  validate?: boolean;
}

class LineError extends PartitionTableError {}

const NUMBER = /^[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[1-9][0-9]*|0+)$/;

function parseNumber(text: string): number | undefined {
  const suffix = text.slice(-1).toLowerCase();
  const multiplier = suffix === "k" ? 1024 : suffix === "m" ? 1024 * 1024 : 1;
  const digits = multiplier === 1 ? text : text.slice(0, -1);
  if (!NUMBER.test(digits)) return undefined;
  const negative = digits.startsWith("-");
  const unsigned = digits.replace(/^[+-]/, "");
  const value = /^0[oObB]/.test(unsigned)
    ? parseInt(unsigned.slice(2), unsigned[1]!.toLowerCase() === "o" ? 8 : 2)
    : Number(unsigned);
  return (negative ? -value : value) * multiplier;
}

function parseValue(text: string, field: string, keywords: ReadonlyMap<string, number>): number {
  const number = parseNumber(text);
  if (number !== undefined) return number;
  const keyword = keywords.get(text.toLowerCase());
  if (keyword !== undefined) return keyword;
  if (keywords.size === 0) throw new LineError(`${field} "${text}" is not a number`);
  throw new LineError(`${field} "${text}" is not valid; known keywords: ${[...keywords.keys()].join(", ")}`);
}

interface Row {
  line: number;
  partition: Omit<Partition, "offset"> & { offset: number | undefined };
  /** Placed by the table itself (primary bootloader, primary partition table). */
  fixed: boolean;
}

function parseRow(line: string, lineNumber: number, tableOffset: number): Row {
  if (/(?<!\\)\$[A-Za-z_]/.test(line)) throw new LineError("environment variables ($NAME) are not supported");
  const fields = line.split(",").map((field) => field.trim());
  const surplus = fields.slice(6).find((field) => field !== "");
  if (surplus !== undefined) throw new LineError(`unexpected column "${surplus}" after the flags`);
  const [name = "", typeText = "", subtypeText = "", offsetText = "", sizeText = "", flagsText = ""] = fields;
  if (name === "") throw new LineError("the name is empty");
  if (typeText === "") throw new LineError("the type is empty");
  const type = parseValue(typeText, "type", TYPE_KEYWORDS);
  let subtype: number;
  if (subtypeText === "") {
    if (type === PartitionType.APP) throw new LineError("an app partition needs a subtype");
    subtype = DataSubtype.UNDEFINED;
  } else {
    subtype = parseValue(subtypeText, "subtype", subtypeKeywords(type));
  }
  let flags = 0;
  for (const flag of flagsText.split(":").map((f) => f.trim())) {
    if (flag === "") continue;
    const bit = FLAG_KEYWORDS.get(flag);
    if (bit === undefined) throw new LineError(`unknown flag "${flag}" (known: ${[...FLAG_KEYWORDS.keys()].join(", ")})`);
    flags |= bit;
  }
  const base = { name, type, subtype, flags };
  // As gen_esp32part.py: bootloader and partition-table entries get their
  // sizes from the layout, and the primary ones their offsets too.
  let size: number | undefined;
  if (type === PartitionType.BOOTLOADER) size = tableOffset - ESP32_BOOTLOADER_OFFSET;
  else if (type === PartitionType.PARTITION_TABLE) size = PARTITION_TABLE_SECTOR_SIZE;
  if (type === PartitionType.BOOTLOADER && subtype === 0x02) {
    throw new LineError("a recovery bootloader partition is not supported on the ESP32");
  }
  const fixedOffset =
    type === PartitionType.BOOTLOADER && subtype === 0x00 ? ESP32_BOOTLOADER_OFFSET
    : type === PartitionType.PARTITION_TABLE && subtype === 0x00 ? tableOffset
    : undefined;
  if (fixedOffset !== undefined) {
    return { line: lineNumber, fixed: true, partition: { ...base, offset: fixedOffset, size: size! } };
  }
  const offset = offsetText === "" ? undefined : parseValue(offsetText, "offset", new Map());
  if (size === undefined) {
    if (sizeText === "") throw new LineError("the size is empty");
    size = parseValue(sizeText, "size", new Map());
  }
  return { line: lineNumber, fixed: false, partition: { ...base, offset, size } };
}

/** Parses (and by default validates) a partitions.csv into table order. */
export function parsePartitionsCsv(text: string, options: PartitionsCsvOptions = {}): Partition[] {
  const { tableOffset = PARTITION_TABLE_OFFSET, flashSize, validate = true } = options;
  const rows: Row[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      rows.push(parseRow(line, index + 1, tableOffset));
    } catch (error) {
      if (error instanceof LineError) throw new PartitionTableError(`partitions.csv line ${index + 1}: ${error.message}`);
      throw error;
    }
  });

  const partitions: Partition[] = [];
  let lastEnd = tableOffset + PARTITION_TABLE_SECTOR_SIZE;
  let placedAny = false;
  for (const row of rows) {
    const p = row.partition;
    if (row.fixed) {
      partitions.push({ ...p, offset: p.offset! });
      continue;
    }
    const where = `partitions.csv line ${row.line}`;
    let offset = p.offset;
    if (offset !== undefined && offset < lastEnd) {
      throw new PartitionTableError(
        !placedAny
          ? `${where}: offset ${hex(offset)} overlaps the partition table sector at ${hex(tableOffset)}; use ${hex(lastEnd)} or higher`
          : `${where}: offset ${hex(offset)} overlaps the previous partition, which ends at ${hex(lastEnd)}`,
      );
    }
    if (offset === undefined) {
      const align = offsetAlignment(p.type);
      offset = Math.ceil(lastEnd / align) * align;
    }
    let size = p.size;
    if (size < 0) {
      size = -size - offset;
      if (size <= 0) throw new PartitionTableError(`${where}: end address ${hex(-p.size)} is not after the offset ${hex(offset)}`);
    }
    partitions.push({ ...p, offset, size });
    lastEnd = offset + size;
    placedAny = true;
  }
  if (validate) validatePartitions(partitions, { tableOffset, flashSize });
  return partitions;
}

function sizeText(size: number): string {
  if (size > 0 && size % 0x100000 === 0) return `${size / 0x100000}M`;
  if (size > 0 && size % 0x400 === 0) return `${size / 0x400}K`;
  return `0x${size.toString(16)}`;
}

/** The table as partitions.csv text, every offset written out. */
export function formatPartitionsCsv(partitions: readonly Partition[]): string {
  const rows = partitions.map((p) => {
    const flags = [...FLAG_KEYWORDS].filter(([, bit]) => p.flags & bit).map(([name]) => name).join(":");
    return [p.name, partitionTypeName(p.type), partitionSubtypeName(p.type, p.subtype), `0x${p.offset.toString(16)}`, sizeText(p.size), flags].join(", ");
  });
  return ["# Name, Type, SubType, Offset, Size, Flags", ...rows].join("\n") + "\n";
}
