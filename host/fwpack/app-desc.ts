// esp_app_desc_t as ESP-IDF v5.x lays it out (esp_app_format/include/
// esp_app_desc.h, 256 bytes). It is the first thing in the first (DROM)
// segment, so it sits at image offset 24 + 8 = 32. Newer IDF (v6) turns byte
// 181 into spi_flash_mode; v5.x keeps it reserved, zero.

import { AppImageError, hex } from "./errors.js";
import { decodeFixedString, encodeFixedString } from "./fixed-string.js";

export const APP_DESC_MAGIC = 0xabcd5432;
export const APP_DESC_SIZE = 256;

export const APP_DESC_OFFSETS = {
  magicWord: 0,
  secureVersion: 4,
  reserv1: 8,
  version: 16,
  projectName: 48,
  time: 80,
  date: 96,
  idfVer: 112,
  appElfSha256: 144,
  minEfuseBlkRevFull: 176,
  maxEfuseBlkRevFull: 178,
  mmuPageSize: 180,
  reserv3: 181,
  reserv2: 184,
} as const;

const STRING_FIELDS = [
  ["version", APP_DESC_OFFSETS.version, 32],
  ["projectName", APP_DESC_OFFSETS.projectName, 32],
  ["time", APP_DESC_OFFSETS.time, 16],
  ["date", APP_DESC_OFFSETS.date, 16],
  ["idfVer", APP_DESC_OFFSETS.idfVer, 32],
] as const;

export interface AppDescription {
  secureVersion: number;
  version: string;
  projectName: string;
  /** __TIME__ ("hh:mm:ss") or "" in a reproducible build. */
  time: string;
  /** __DATE__ ("Mmm dd yyyy") or "" in a reproducible build. */
  date: string;
  idfVer: string;
  appElfSha256: Buffer;
  minEfuseBlkRevFull: number;
  maxEfuseBlkRevFull: number;
  /** log2 of the MMU page size: 16 for the ESP32's 64 KB pages. */
  mmuPageSize: number;
}

export type AppDescriptionInput = Pick<AppDescription, "version" | "projectName"> & Partial<AppDescription>;

/** ESP32 defaults of IDF v5.x: eFuse block revision 0..99 (not checked on the ESP32), 64 KB MMU pages. */
export const ESP32_APP_DESC_DEFAULTS = {
  secureVersion: 0,
  time: "",
  date: "",
  minEfuseBlkRevFull: 0,
  maxEfuseBlkRevFull: 99,
  mmuPageSize: 16,
} as const;

function check(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new AppImageError(`esp_app_desc_t: ${field} ${value} is not in 0..${hex(max)}`);
  }
}

/** Strings must leave room for the NUL, as IDF's _Static_asserts require. */
export function encodeAppDescription(input: AppDescriptionInput & { idfVer: string }): Buffer {
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const desc: AppDescription = { ...ESP32_APP_DESC_DEFAULTS, appElfSha256: Buffer.alloc(32), ...(given as typeof input) };
  check(desc.secureVersion, 0xffffffff, "secure_version");
  check(desc.minEfuseBlkRevFull, 0xffff, "min_efuse_blk_rev_full");
  check(desc.maxEfuseBlkRevFull, 0xffff, "max_efuse_blk_rev_full");
  check(desc.mmuPageSize, 0xff, "mmu_page_size");
  if (desc.appElfSha256.length !== 32) throw new AppImageError(`esp_app_desc_t: app_elf_sha256 is ${desc.appElfSha256.length} bytes, must be 32`);
  const o = APP_DESC_OFFSETS;
  const out = Buffer.alloc(APP_DESC_SIZE);
  out.writeUInt32LE(APP_DESC_MAGIC, o.magicWord);
  out.writeUInt32LE(desc.secureVersion, o.secureVersion);
  for (const [field, offset, size] of STRING_FIELDS) {
    encodeFixedString(desc[field], size, `esp_app_desc_t ${field}`, AppImageError, { terminated: true }).copy(out, offset);
  }
  out.set(desc.appElfSha256, o.appElfSha256);
  out.writeUInt16LE(desc.minEfuseBlkRevFull, o.minEfuseBlkRevFull);
  out.writeUInt16LE(desc.maxEfuseBlkRevFull, o.maxEfuseBlkRevFull);
  out[o.mmuPageSize] = desc.mmuPageSize;
  return out;
}

/** Throws when the bytes are short or the magic word is wrong (IDF: ESP_ERR_NOT_FOUND). */
export function decodeAppDescription(bytes: Uint8Array): AppDescription {
  if (bytes.length < APP_DESC_SIZE) {
    throw new AppImageError(`esp_app_desc_t truncated: ${bytes.length} bytes, need ${APP_DESC_SIZE}`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, APP_DESC_SIZE);
  const o = APP_DESC_OFFSETS;
  const magic = b.readUInt32LE(o.magicWord);
  if (magic !== APP_DESC_MAGIC) {
    throw new AppImageError(`esp_app_desc_t magic is ${hex(magic, 8)}, expected ${hex(APP_DESC_MAGIC, 8)}`);
  }
  const text = (offset: number, size: number) => decodeFixedString(b.subarray(offset, offset + size));
  return {
    secureVersion: b.readUInt32LE(o.secureVersion),
    version: text(o.version, 32),
    projectName: text(o.projectName, 32),
    time: text(o.time, 16),
    date: text(o.date, 16),
    idfVer: text(o.idfVer, 32),
    appElfSha256: Buffer.from(b.subarray(o.appElfSha256, o.appElfSha256 + 32)),
    minEfuseBlkRevFull: b.readUInt16LE(o.minEfuseBlkRevFull),
    maxEfuseBlkRevFull: b.readUInt16LE(o.maxEfuseBlkRevFull),
    mmuPageSize: b[o.mmuPageSize]!,
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The C compiler's __DATE__ ("Jun  8 2016") and __TIME__ ("00:22:57") of an instant, in UTC. */
export function compilerDateTime(when: Date): { date: string; time: string } {
  const two = (n: number) => String(n).padStart(2, "0");
  return {
    date: `${MONTHS[when.getUTCMonth()]} ${String(when.getUTCDate()).padStart(2, " ")} ${when.getUTCFullYear()}`,
    time: `${two(when.getUTCHours())}:${two(when.getUTCMinutes())}:${two(when.getUTCSeconds())}`,
  };
}
