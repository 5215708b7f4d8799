// A ZIP archive of STORED entries, in memory, byte for byte reproducible, laid
// out for a reader that streams: every local header already holds the CRC-32
// and both sizes, general-purpose bit 3 (data descriptor) is never set, and
// the entries appear in the order given. The device parses fw.zip this way
// (spec/mos-rpc.md §3.3; mos patched Go's writer for the same reason).
//
// Why not yazl: it writes exactly this layout for addBuffer() entries today,
// but its local headers can hold no extra field (their length is hard-coded
// to 0), and signed packages put the signatures in the manifest entry's extra
// field 0x293a (§3.1), which the device reads from the LOCAL header. A writer
// of our own is 100 lines, synchronous, and can carry that field.

import zlib from "node:zlib";
import { FwZipError } from "./fw-zip-error.js";
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  END_OF_CENTRAL_DIRECTORY_SIZE,
  EXTERNAL_ATTRIBUTES,
  FLAG_UTF8,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  METHOD_STORED,
  VERSION_MADE_BY,
  VERSION_NEEDED,
  encodeDosDateTime,
} from "./zip-records.js";

export interface StoredZipEntryInput {
  /** Archive path, "/"-separated, relative. */
  name: string;
  data: Uint8Array;
  /** Extra field blocks (u16le id, u16le size, data), written to the local and the central header. */
  extraField?: Uint8Array;
}

export interface StoredZipOptions {
  /** Modification time of every entry; the build time, so the same build gives the same bytes. */
  modified: Date;
}

const U16 = 0xffff;
const U32 = 0xffffffff;

function checkName(name: string, seen: Set<string>): Buffer {
  if (name === "" || name.startsWith("/") || name.includes("\\") || name.includes("\0")) {
    throw new FwZipError(`zip entry name ${JSON.stringify(name)} must be a relative "/"-separated path`);
  }
  if (name.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new FwZipError(`zip entry name ${JSON.stringify(name)} must not contain "." or ".." segments`);
  }
  if (seen.has(name)) throw new FwZipError(`duplicate zip entry "${name}"`);
  seen.add(name);
  const bytes = Buffer.from(name, "utf8");
  if (bytes.toString("utf8") !== name) throw new FwZipError(`zip entry name ${JSON.stringify(name)} is not well-formed Unicode`);
  if (bytes.length > U16) throw new FwZipError(`zip entry name "${name.slice(0, 40)}..." is ${bytes.length} bytes; at most ${U16}`);
  return bytes;
}

/** Extra fields are a sequence of blocks; a malformed one would make readers skip or refuse the entry. */
function checkExtraField(name: string, extra: Uint8Array): Buffer {
  const b = Buffer.from(extra.buffer, extra.byteOffset, extra.byteLength);
  if (b.length > U16) throw new FwZipError(`extra field of "${name}" is ${b.length} bytes; at most ${U16}`);
  let at = 0;
  while (at < b.length) {
    if (at + 4 > b.length || at + 4 + b.readUInt16LE(at + 2) > b.length) {
      throw new FwZipError(`extra field of "${name}" is malformed at byte ${at}: each block is u16 id, u16 size, then size bytes`);
    }
    at += 4 + b.readUInt16LE(at + 2);
  }
  return b;
}

export function writeStoredZip(entries: readonly StoredZipEntryInput[], { modified }: StoredZipOptions): Buffer {
  if (entries.length > U16) throw new FwZipError(`${entries.length} entries; a ZIP without ZIP64 holds at most ${U16}`);
  const { date, time } = encodeDosDateTime(modified);
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = checkName(entry.name, seen);
    const extra = checkExtraField(entry.name, entry.extraField ?? new Uint8Array(0));
    const data = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    if (data.length >= U32) throw new FwZipError(`"${entry.name}" is ${data.length} bytes; without ZIP64 an entry stays below 4 GB`);
    const ascii = name.length === entry.name.length; // UTF-8 grows only outside ASCII
    const flags = ascii ? 0 : FLAG_UTF8;
    const crc = zlib.crc32(data);

    const local = Buffer.alloc(LOCAL_HEADER_SIZE);
    local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(METHOD_STORED, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); // compressed size
    local.writeUInt32LE(data.length, 22); // uncompressed size
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);

    const central = Buffer.alloc(CENTRAL_HEADER_SIZE);
    central.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    central.writeUInt16LE(VERSION_MADE_BY, 4);
    local.copy(central, 6, 4, 30); // version needed .. extra field length: the same fields, in the same order
    // file comment length, disk number start, internal attributes: 0
    central.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
    central.writeUInt32LE(offset, 42);

    locals.push(local, name, extra, data);
    centrals.push(central, name, extra);
    offset += LOCAL_HEADER_SIZE + name.length + extra.length + data.length;
    if (offset > U32) throw new FwZipError("archive exceeds 4 GB; ZIP64 is not supported");
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  // this disk and the directory's disk: 0
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  // comment length: 0
  return Buffer.concat([...locals, directory, end]);
}
