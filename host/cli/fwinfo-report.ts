// What `xs-ota fwinfo` knows about a file, as plain data (the --json output,
// and what the text view prints). A file is a fw.zip or a bare ESP-IDF app
// image, told apart by its first bytes. Faults that stop the reading (a
// truncated zip, a bad CRC) throw; checks that can be shown one by one (a
// digest, the image checksum) are reported, and `failures` lists the failed ones.

import { createHash } from "node:crypto";
import { buildId } from "sys/identity";
import { parseAppImage, verifyAppImage, type ParsedAppImage } from "../fwpack/app-image.ts";
import { hex } from "../fwpack/errors.ts";
import type { FwManifest, FwPart } from "../fwpack/fw-manifest.ts";
import { parseFwZip, type PartCheck } from "../fwpack/fw-zip.ts";
import { ChipId, IMAGE_MAGIC, SpiMode, SpiSpeed } from "../fwpack/image-header.ts";

export interface AppImageInfo {
  size: number;
  sha256: string;
  header: { chip: string; chipId: number; segments: number; flash: string; chipRevisions: string; hashAppended: boolean };
  segments: Array<{ loadAddr: string; offset: number; size: number }>;
  appDesc: { project: string; version: string; date: string; time: string; idf: string; secureVersion: number; elfSha256: string } | null;
  /** What the firmware reports as fw_id when this image runs. */
  fwId: string | null;
  checksum: { stored: string; computed: string; ok: boolean };
  hash: { stored: string; computed: string; ok: boolean } | null;
  trailingBytes: number;
  /** The virtual board's module archive: module name and source size in bytes. */
  modules?: Array<{ name: string; size: number }>;
  /** Why the bootloader would refuse the image, if it would. */
  failure?: string;
}

export interface PackageInfo {
  kind: "fw.zip";
  file: string;
  size: number;
  sha256: string;
  manifest: FwManifest;
  entries: Array<{ name: string; size: number; crc32: string }>;
  parts: Array<{ name: string; attrs: FwPart; checks: PartCheck[]; image?: AppImageInfo }>;
  failures: string[];
}

export interface BareImageInfo {
  kind: "app-image";
  file: string;
  size: number;
  sha256: string;
  image: AppImageInfo;
  failures: string[];
}

export type FirmwareInfo = PackageInfo | BareImageInfo;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const nameOf = (table: Record<string, number>, value: number) => Object.entries(table).find(([, v]) => v === value)?.[0];
const SPEEDS: Record<number, string> = { [SpiSpeed.MHZ_40]: "40 MHz", [SpiSpeed.MHZ_26]: "26 MHz", [SpiSpeed.MHZ_20]: "20 MHz", [SpiSpeed.MHZ_80]: "80 MHz" };
const revision = (full: number) => `v${Math.floor(full / 100)}.${full % 100}`;

function describeImage(data: Uint8Array, parsed: ParsedAppImage): AppImageInfo {
  const { header, appDesc: desc } = parsed;
  const maxRev = header.maxChipRevFull === 0 || header.maxChipRevFull === 0xffff ? "any" : revision(header.maxChipRevFull);
  const info: AppImageInfo = {
    size: data.length,
    sha256: sha256(data),
    header: {
      chip: nameOf(ChipId, header.chipId) ?? "unknown",
      chipId: header.chipId,
      segments: header.segmentCount,
      flash: `${nameOf(SpiMode, header.spiMode) ?? `mode ${header.spiMode}`} ${SPEEDS[header.spiSpeed] ?? `speed ${header.spiSpeed}`} ${1 << header.spiSize} MB`,
      chipRevisions: `${revision(header.minChipRevFull)}..${maxRev}`,
      hashAppended: header.hashAppended,
    },
    segments: parsed.segments.map((s) => ({ loadAddr: hex(s.loadAddr, 8), offset: s.dataOffset, size: s.data.length })),
    appDesc: desc && {
      project: desc.projectName,
      version: desc.version,
      date: desc.date,
      time: desc.time,
      idf: desc.idfVer,
      secureVersion: desc.secureVersion,
      elfSha256: desc.appElfSha256.toString("hex"),
    },
    fwId: desc && buildId(desc.date, desc.time, desc.version),
    checksum: { stored: hex(parsed.checksum.stored, 2), computed: hex(parsed.checksum.computed, 2), ok: parsed.checksumOk },
    hash: parsed.sha256 && { stored: parsed.sha256.stored.toString("hex"), computed: parsed.sha256.computed.toString("hex"), ok: parsed.sha256Ok === true },
    trailingBytes: parsed.trailingBytes,
  };
  if (parsed.modules) info.modules = [...parsed.modules].map(([name, source]) => ({ name, size: Buffer.byteLength(source, "utf8") }));
  try {
    verifyAppImage(data);
  } catch (e) {
    info.failure = (e as Error).message;
  }
  return info;
}

function inspectPackage(file: string, bytes: Buffer): PackageInfo {
  const contents = parseFwZip(bytes);
  return {
    kind: "fw.zip",
    file,
    size: bytes.length,
    sha256: sha256(bytes),
    manifest: contents.manifest,
    entries: contents.entries.map((e) => ({ name: e.name, size: e.data.length, crc32: hex(e.crc32, 8) })),
    parts: contents.parts.map((part) => ({
      name: part.name,
      attrs: part.attrs,
      checks: part.checks,
      ...(part.app && part.entry && { image: describeImage(part.entry.data, part.app) }),
    })),
    failures: contents.failures,
  };
}

function inspectImage(file: string, bytes: Buffer): BareImageInfo {
  const image = describeImage(bytes, parseAppImage(bytes));
  return { kind: "app-image", file, size: bytes.length, sha256: image.sha256, image, failures: image.failure ? [image.failure] : [] };
}

const ZIP_MAGIC = Buffer.from("PK\x03\x04", "latin1");

/** Throws when the file is neither kind, or too broken to read at all. */
export function inspectFirmware(file: string, bytes: Buffer): FirmwareInfo {
  if (bytes.subarray(0, 4).equals(ZIP_MAGIC)) return inspectPackage(file, bytes);
  if (bytes[0] === IMAGE_MAGIC) return inspectImage(file, bytes);
  const start = bytes.length === 0 ? "it is empty" : `it starts with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`;
  throw new Error(`not a fw.zip (50 4b 03 04) nor an ESP-IDF app image (e9): ${start}`);
}
