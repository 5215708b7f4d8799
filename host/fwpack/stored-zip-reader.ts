// Reads a fw.zip the way the device will, and then some. First it walks the
// local headers from offset 0, as the device's single-pass reader does
// (spec/mos-rpc.md §3.3): stored entries only, CRC and sizes taken from the
// local header, no data descriptors. Then it checks the central directory and
// the end record against what the walk found, so an archive that other tools
// read differently from the device (a stale central directory, trailing junk)
// is refused here too.

import zlib from "node:zlib";
import { hex } from "./errors.js";
import { FwZipError } from "./fw-zip-error.js";
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  END_OF_CENTRAL_DIRECTORY_SIZE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_ZIP_COMMENT,
  METHOD_STORED,
  decodeDosDateTime,
  decodeLocalHeader,
} from "./zip-records.js";

export interface StoredZipEntry {
  name: string;
  data: Buffer;
  crc32: number;
  flags: number;
  modified: Date;
  /** Raw extra field of the local header (signed packages carry block 0x293a here). */
  extraField: Buffer;
  /** Offset of the entry's local header. */
  offset: number;
}

const METHOD_NAMES: Record<number, string> = { 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz" };
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeName(bytes: Buffer, flags: number, at: number): string {
  if (!(flags & FLAG_UTF8)) return bytes.toString("latin1");
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new FwZipError(`Malformed archive: the entry name at offset ${hex(at)} is flagged UTF-8 but is not`);
  }
}

export function readStoredZip(bytes: Uint8Array): StoredZipEntry[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number, what: string) => {
    if (at + n > b.length) {
      throw new FwZipError(`truncated zip: ${what} at offset ${hex(at)} needs ${n} bytes, the file ends at ${hex(b.length)}`);
    }
  };
  const entries: StoredZipEntry[] = [];
  let at = 0;
  for (;;) {
    need(at, 4, entries.length === 0 ? "the first local header" : `the header after "${entries.at(-1)!.name}"`);
    const signature = b.readUInt32LE(at);
    if (signature === CENTRAL_HEADER_SIGNATURE && entries.length > 0) break;
    if (signature === END_OF_CENTRAL_DIRECTORY_SIGNATURE && entries.length === 0) throw new FwZipError("empty zip: no entries");
    if (signature !== LOCAL_HEADER_SIGNATURE) {
      const what = entries.length === 0 ? "not a zip: bad local header magic" : "bad local header magic";
      throw new FwZipError(`${what} ${hex(signature, 8)} at offset ${hex(at)} (expected ${hex(LOCAL_HEADER_SIGNATURE, 8)})`);
    }
    need(at, LOCAL_HEADER_SIZE, "a local header");
    const { flags, method, crc32, compressedSize, size, nameLength, extraLength, nameStart, dataStart, date, time } = decodeLocalHeader(b, at);
    need(nameStart, nameLength + extraLength, "an entry name and extra field");
    const name = decodeName(b.subarray(nameStart, nameStart + nameLength), flags, at);
    const quoted = JSON.stringify(name);
    if (method !== METHOD_STORED) {
      throw new FwZipError(
        `Cannot handle compressed .zip: entry ${quoted} uses method ${method} (${METHOD_NAMES[method] ?? "unknown"}); fw.zip entries must be stored (method 0)`,
      );
    }
    if (flags & FLAG_ENCRYPTED) throw new FwZipError(`entry ${quoted} is encrypted, which the device cannot read`);
    if (flags & FLAG_DATA_DESCRIPTOR) {
      throw new FwZipError(
        `entry ${quoted} has a data descriptor (general-purpose bit 3): its CRC and sizes come after the data, ` +
          "but the device takes them from the local header as it streams; write the zip with them in the local header, as mos does",
      );
    }
    if (compressedSize !== size) {
      throw new FwZipError(`Malformed archive: stored entry ${quoted} has compressed size ${compressedSize} but size ${size}`);
    }
    need(dataStart, size, `the data of ${quoted}`);
    const data = b.subarray(dataStart, dataStart + size);
    const actual = zlib.crc32(data);
    if (actual !== crc32) {
      throw new FwZipError(`Invalid CRC: entry ${quoted}: the local header says ${hex(crc32, 8)}, the data has ${hex(actual, 8)}`);
    }
    entries.push({
      name,
      data,
      crc32,
      flags,
      modified: decodeDosDateTime(date, time),
      extraField: b.subarray(nameStart + nameLength, dataStart),
      offset: at,
    });
    at = dataStart + size;
  }
  checkCentralDirectory(b, entries, at);
  return entries;
}

/** The end record: the last signature within the comment's reach whose comment ends the file. */
function findEndRecord(b: Buffer): number {
  const lowest = Math.max(0, b.length - END_OF_CENTRAL_DIRECTORY_SIZE - MAX_ZIP_COMMENT);
  let last = -1;
  for (let at = b.length - END_OF_CENTRAL_DIRECTORY_SIZE; at >= lowest; at--) {
    if (b.readUInt32LE(at) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    if (at + END_OF_CENTRAL_DIRECTORY_SIZE + b.readUInt16LE(at + 20) === b.length) return at;
    if (last < 0) last = at;
  }
  if (last >= 0 && last + END_OF_CENTRAL_DIRECTORY_SIZE + b.readUInt16LE(last + 20) < b.length) {
    const extra = b.length - last - END_OF_CENTRAL_DIRECTORY_SIZE - b.readUInt16LE(last + 20);
    throw new FwZipError(`Malformed archive: ${extra} unexpected bytes after the end of central directory record`);
  }
  throw new FwZipError(`truncated zip: no end of central directory record at the end of the file (${hex(b.length)} bytes)`);
}

function checkCentralDirectory(b: Buffer, entries: readonly StoredZipEntry[], directoryOffset: number): void {
  const end = findEndRecord(b);
  const count = b.readUInt16LE(end + 10);
  const directorySize = b.readUInt32LE(end + 12);
  const recordedOffset = b.readUInt32LE(end + 16);
  if (count === 0xffff || directorySize === 0xffffffff || recordedOffset === 0xffffffff) {
    throw new FwZipError("Malformed archive: ZIP64 archives are not supported");
  }
  if (b.readUInt16LE(end + 4) !== 0 || b.readUInt16LE(end + 6) !== 0 || b.readUInt16LE(end + 8) !== count) {
    throw new FwZipError("Malformed archive: multi-disk archives are not supported");
  }
  if (recordedOffset !== directoryOffset || directoryOffset + directorySize !== end) {
    throw new FwZipError(
      `Malformed archive: the end record places the central directory at ${hex(recordedOffset)}..${hex(recordedOffset + directorySize)}, ` +
        `the entries end at ${hex(directoryOffset)} and the end record is at ${hex(end)}`,
    );
  }
  if (count !== entries.length) {
    throw new FwZipError(`Malformed archive: the central directory lists ${count} entries, the archive holds ${entries.length}`);
  }
  let at = directoryOffset;
  for (const entry of entries) {
    if (at + CENTRAL_HEADER_SIZE > end || b.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw new FwZipError(`Malformed archive: no central directory header at ${hex(at)} for "${entry.name}"`);
    }
    const nameLength = b.readUInt16LE(at + 28);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
    if (next > end) throw new FwZipError(`Malformed archive: the central directory header of "${entry.name}" runs past the end record`);
    const fields: Array<[string, number | string, number | string]> = [
      ["flags", b.readUInt16LE(at + 8), entry.flags],
      ["compression method", b.readUInt16LE(at + 10), METHOD_STORED],
      ["CRC", b.readUInt32LE(at + 16), entry.crc32],
      ["compressed size", b.readUInt32LE(at + 20), entry.data.length],
      ["size", b.readUInt32LE(at + 24), entry.data.length],
      ["local header offset", b.readUInt32LE(at + 42), entry.offset],
      ["name", decodeName(b.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength), b.readUInt16LE(at + 8), at), entry.name],
    ];
    for (const [field, central, local] of fields) {
      if (central !== local) {
        throw new FwZipError(`Malformed archive: the central directory and the local header of "${entry.name}" disagree on the ${field}`);
      }
    }
    at = next;
  }
  if (at !== end) throw new FwZipError(`Malformed archive: ${end - at} unexpected bytes after the central directory`);
}
