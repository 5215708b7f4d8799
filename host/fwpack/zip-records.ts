// The fixed parts of the ZIP records a fw.zip uses (PKWARE APPNOTE 6.3.x,
// §4.3.7, §4.3.12, §4.3.16), shared by the writer, the strict reader and the
// fuzzer's model of the device's reader.
// No ZIP64: the device's reader has none, and no firmware nears 4 GB.

export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
export const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
export const MAX_ZIP_COMMENT = 0xffff;

/** What the device refuses or cannot read: encryption, sizes after the data. */
export const FLAG_ENCRYPTED = 1 << 0;
export const FLAG_DATA_DESCRIPTOR = 1 << 3;
/** Name (and comment) are UTF-8; set only for non-ASCII names, as Python's zipfile does. */
export const FLAG_UTF8 = 1 << 11;

export const METHOD_STORED = 0;
/** 2.0: what Info-ZIP and Python's zipfile write for stored entries. */
export const VERSION_NEEDED = 20;
/** Upper byte 3 = Unix, so the external attributes carry a file mode. */
export const VERSION_MADE_BY = (3 << 8) | VERSION_NEEDED;
/** Regular file, rw-r--r--. */
export const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;

/** The MS-DOS date/time pair of a local time of day; ZIP's oldest date is 1980-01-01. */
export function encodeDosDateTime(when: Date): { date: number; time: number } {
  const year = when.getUTCFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) throw new RangeError(`ZIP dates end in 2107; ${when.toISOString()} is later`);
  return {
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (when.getUTCSeconds() >> 1),
  };
}

/** Read back as UTC, the way encodeDosDateTime() wrote it (DOS times carry no zone). */
export function decodeDosDateTime(date: number, time: number): Date {
  return new Date(
    Date.UTC(1980 + (date >> 9), ((date >> 5) & 0x0f) - 1, date & 0x1f, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2),
  );
}

/** The fields of the local header at `at` (LOCAL_HEADER_SIZE bytes must be there); the caller checks the signature. */
export interface LocalHeader {
  flags: number;
  method: number;
  time: number;
  date: number;
  crc32: number;
  compressedSize: number;
  size: number;
  nameLength: number;
  extraLength: number;
  /** Where the name starts; the extra field and then the data follow it. */
  nameStart: number;
  dataStart: number;
}

export function decodeLocalHeader(b: Buffer, at: number): LocalHeader {
  const nameLength = b.readUInt16LE(at + 26);
  const extraLength = b.readUInt16LE(at + 28);
  return {
    flags: b.readUInt16LE(at + 6),
    method: b.readUInt16LE(at + 8),
    time: b.readUInt16LE(at + 10),
    date: b.readUInt16LE(at + 12),
    crc32: b.readUInt32LE(at + 14),
    compressedSize: b.readUInt32LE(at + 18),
    size: b.readUInt32LE(at + 22),
    nameLength,
    extraLength,
    nameStart: at + LOCAL_HEADER_SIZE,
    dataStart: at + LOCAL_HEADER_SIZE + nameLength + extraLength,
  };
}
