// The firmware payload of a virtual-board image (host/vboard/README.md,
// "Firmware payload"): "XSVBMODS", u32le count, then per module u16le name
// length, UTF-8 name, u32le source length, UTF-8 source. Names are unique,
// non-empty and free of NUL so the C side can use them as C strings.

import { ModuleArchiveError, hex } from "./errors.js";

export const MODULE_ARCHIVE_MAGIC = Buffer.from("XSVBMODS", "ascii");
export const MODULE_NAME_MAX_BYTES = 0xffff;
export const MODULE_SOURCE_MAX_BYTES = 0xffffffff;

export type ModuleSources = ReadonlyMap<string, string> | Iterable<readonly [string, string]>;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function utf8(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.toString("utf8") !== text) throw new ModuleArchiveError(`${what} is not well-formed Unicode (lone surrogate)`);
  return bytes;
}

export function encodeModuleArchive(modules: ModuleSources): Buffer {
  const parts: Buffer[] = [MODULE_ARCHIVE_MAGIC, Buffer.alloc(4)];
  const names = new Set<string>();
  for (const [name, source] of modules) {
    if (typeof name !== "string" || typeof source !== "string") {
      throw new ModuleArchiveError("module names and sources must be strings");
    }
    if (name === "") throw new ModuleArchiveError("a module name is empty");
    if (name.includes("\0")) throw new ModuleArchiveError(`module name ${JSON.stringify(name)} contains NUL`);
    if (names.has(name)) throw new ModuleArchiveError(`duplicate module "${name}"`);
    names.add(name);
    const nameBytes = utf8(name, `module name "${name}"`);
    if (nameBytes.length > MODULE_NAME_MAX_BYTES) {
      throw new ModuleArchiveError(`module name "${name.slice(0, 40)}..." is ${nameBytes.length} bytes; at most ${MODULE_NAME_MAX_BYTES}`);
    }
    const sourceBytes = utf8(source, `source of "${name}"`);
    if (sourceBytes.length > MODULE_SOURCE_MAX_BYTES) {
      throw new ModuleArchiveError(`source of "${name}" is ${sourceBytes.length} bytes; at most ${MODULE_SOURCE_MAX_BYTES}`);
    }
    const nameLength = Buffer.alloc(2);
    nameLength.writeUInt16LE(nameBytes.length);
    const sourceLength = Buffer.alloc(4);
    sourceLength.writeUInt32LE(sourceBytes.length);
    parts.push(nameLength, nameBytes, sourceLength, sourceBytes);
  }
  parts[1]!.writeUInt32LE(names.size);
  return Buffer.concat(parts);
}

/**
 * Decodes an archive into a Map in archive order. Bytes after the last module
 * are accepted only as the zero padding (at most 3 bytes) that rounds an image
 * segment up to 4 bytes.
 */
export function decodeModuleArchive(bytes: Uint8Array): Map<string, string> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > b.length) {
      throw new ModuleArchiveError(`module archive truncated: ${what} needs ${n} bytes at offset ${hex(at)}, ${b.length - at} left`);
    }
  };
  need(MODULE_ARCHIVE_MAGIC.length + 4, "the header");
  if (!b.subarray(0, MODULE_ARCHIVE_MAGIC.length).equals(MODULE_ARCHIVE_MAGIC)) {
    throw new ModuleArchiveError(`bad module archive magic ${JSON.stringify(b.subarray(0, 8).toString("latin1"))} (expected "XSVBMODS")`);
  }
  at = MODULE_ARCHIVE_MAGIC.length;
  const count = b.readUInt32LE(at);
  at += 4;
  const modules = new Map<string, string>();
  const text = (length: number, what: string) => {
    try {
      return strictUtf8.decode(b.subarray(at, at + length));
    } catch {
      throw new ModuleArchiveError(`${what} is not valid UTF-8`);
    }
  };
  for (let index = 0; index < count; index++) {
    need(2, `module ${index} name length`);
    const nameLength = b.readUInt16LE(at);
    at += 2;
    need(nameLength, `module ${index} name`);
    const name = text(nameLength, `module ${index} name`);
    at += nameLength;
    if (name === "") throw new ModuleArchiveError(`module ${index} has an empty name`);
    if (name.includes("\0")) throw new ModuleArchiveError(`module ${index} name contains NUL`);
    if (modules.has(name)) throw new ModuleArchiveError(`duplicate module "${name}" (entry ${index})`);
    need(4, `module "${name}" source length`);
    const sourceLength = b.readUInt32LE(at);
    at += 4;
    need(sourceLength, `module "${name}" source`);
    modules.set(name, text(sourceLength, `source of module "${name}"`));
    at += sourceLength;
  }
  const rest = b.subarray(at);
  if (rest.length > 3 || rest.some((byte) => byte !== 0)) {
    throw new ModuleArchiveError(`${rest.length} unexpected bytes after the last module at offset ${hex(at)}`);
  }
  return modules;
}
