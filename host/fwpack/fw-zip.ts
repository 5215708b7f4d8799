// fw.zip, the mos firmware package (spec/mos-rpc.md §3): entries under
// "<name>-<version>/", manifest.json first, then the part files sorted by
// archive path, all stored. parseFwZip() reports every part check (sizes,
// digests, and for an app part its image, version and build id) so fwinfo
// can show them; readFwZip() is the strict form that throws on the first
// failed check, for code that is about to send a package to a device.

import { createHash } from "node:crypto";
import { buildId } from "sys/identity";
import { parseAppImage, verifyAppImage, type ParsedAppImage } from "./app-image.js";
import { decodeFwManifest, encodeFwManifest, type FwManifest, type FwPart } from "./fw-manifest.js";
import { FwZipError } from "./fw-zip-error.js";
import { readStoredZip, type StoredZipEntry } from "./stored-zip-reader.js";
import { writeStoredZip } from "./stored-zip-writer.js";

export const MANIFEST_FILE_NAME = "manifest.json";
/** The device refuses a file name (directory stripped) of 50 bytes or more: "Too long file name". */
export const MAX_FILE_NAME_BYTES = 49;

export interface FwZipFile {
  part: string;
  /** File name inside the package directory. */
  src: string;
  data: Uint8Array;
  /** Attributes of the part (type, ptn, ...); src, size, cs_sha1 and cs_sha256 are computed. */
  attrs: FwPart;
}

export interface BuildFwZipOptions {
  name: string;
  platform: string;
  version: string;
  buildId: string;
  /** ISO-8601, UTC, "Z". */
  buildTimestamp?: string;
  description?: string;
  /** More top-level attributes (mgos's MGOS_FW_EXTRA_ATTRS); they cannot replace the fields above. */
  extraAttrs?: Record<string, unknown>;
  files: readonly FwZipFile[];
  /** Time stamp of the zip entries. */
  modified: Date;
}

export interface BuiltFwZip {
  zip: Buffer;
  manifest: FwManifest;
  /** "<name>-<version>", the directory every entry is in. */
  directory: string;
}

/** What the device matches parts by: the entry name after its first "/". */
export function fileNameOf(entryName: string): string {
  const slash = entryName.indexOf("/");
  return slash < 0 ? entryName : entryName.slice(slash + 1);
}

function checkFileName(name: string, what: string): void {
  if (name === "" || name.includes("/")) throw new FwZipError(`${what} ${JSON.stringify(name)} must be a plain file name`);
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_FILE_NAME_BYTES) {
    throw new FwZipError(`Too long file name: ${what} "${name}" is ${bytes} bytes; the device takes at most ${MAX_FILE_NAME_BYTES}`);
  }
}

const digest = (algorithm: "sha1" | "sha256", data: Uint8Array) => createHash(algorithm).update(data).digest("hex");

export function buildFwZip(options: BuildFwZipOptions): BuiltFwZip {
  for (const [field, value] of [["name", options.name], ["version", options.version]] as const) {
    if (value === "" || value.includes("/")) throw new FwZipError(`package ${field} ${JSON.stringify(value)} must be non-empty and free of "/" (it names the package directory)`);
  }
  const directory = `${options.name}-${options.version}`;
  const parts: Record<string, FwPart> = {};
  const sources = new Set<string>();
  for (const file of options.files) {
    checkFileName(file.src, `part "${file.part}" src`);
    if (file.part in parts) throw new FwZipError(`duplicate part "${file.part}"`);
    if (sources.has(file.src) || file.src === MANIFEST_FILE_NAME) throw new FwZipError(`two files named "${file.src}" in the package`);
    sources.add(file.src);
    parts[file.part] = {
      ...file.attrs,
      src: file.src,
      size: file.data.length,
      cs_sha1: digest("sha1", file.data),
      cs_sha256: digest("sha256", file.data),
    };
  }
  const manifest: FwManifest = {
    ...options.extraAttrs,
    name: options.name,
    platform: options.platform,
    version: options.version,
    build_id: options.buildId,
    ...(options.buildTimestamp === undefined ? {} : { build_timestamp: options.buildTimestamp }),
    ...(options.description === undefined ? {} : { description: options.description }),
    parts,
  };
  const files = options.files
    .map((file) => ({ name: `${directory}/${file.src}`, data: file.data }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const zip = writeStoredZip([{ name: `${directory}/${MANIFEST_FILE_NAME}`, data: encodeFwManifest(manifest) }, ...files], { modified: options.modified });
  return { zip, manifest, directory };
}

export interface PartCheck {
  check: "src" | "size" | "cs_sha1" | "cs_sha256" | "app image" | "version" | "build_id";
  expected: string;
  actual: string;
  ok: boolean;
  /** Why the package is refused, when not ok. */
  failure?: string;
}

export interface FwZipPart {
  name: string;
  attrs: FwPart;
  entry?: StoredZipEntry;
  /** The image of an `app` part, when it parses. */
  app?: ParsedAppImage;
  checks: PartCheck[];
}

export interface FwZipContents {
  manifest: FwManifest;
  /** Every entry, the manifest first. */
  entries: StoredZipEntry[];
  parts: FwZipPart[];
  /** The failure of every check that failed; empty for a good package. */
  failures: string[];
}

function check(checks: PartCheck[], kind: PartCheck["check"], expected: string, actual: string, failure: string): void {
  const ok = expected === actual;
  checks.push(ok ? { check: kind, expected, actual, ok } : { check: kind, expected, actual, ok, failure });
}

/** The image inside must be valid and identify itself as the manifest says, or the device reports another fw_id. */
function checkAppImage(part: FwZipPart, manifest: FwManifest, label: string): void {
  const data = part.entry!.data;
  try {
    part.app = parseAppImage(data);
    // Checked for itself, for the chip it names (an ESP32-S3 package is good too):
    // whether that is the board's chip is for the flasher and the device to say.
    verifyAppImage(data, { chipId: part.app.header.chipId });
    part.checks.push({ check: "app image", expected: "valid", actual: "valid", ok: true });
  } catch (e) {
    const reason = (e as Error).message;
    part.checks.push({ check: "app image", expected: "valid", actual: reason, ok: false, failure: `${label} is not a valid app image: ${reason}` });
    return;
  }
  const desc = part.app.appDesc!;
  check(part.checks, "version", manifest.version, desc.version, `Version mismatch: the manifest says "${manifest.version}", the image's esp_app_desc_t "${desc.version}"`);
  const reported = buildId(desc.date, desc.time, desc.version);
  check(part.checks, "build_id", manifest.build_id, reported, `build_id mismatch: the manifest says "${manifest.build_id}", the image will report fw_id "${reported}"`);
}

function checkPart(name: string, attrs: FwPart, byFile: Map<string, StoredZipEntry>, manifest: FwManifest): FwZipPart {
  const part: FwZipPart = { name, attrs, checks: [] };
  if (attrs.src === undefined) return part; // nvs and the like: flashed from attributes, nothing in the zip
  const label = `part "${name}" (${attrs.src})`;
  part.entry = byFile.get(attrs.src);
  if (!part.entry) {
    check(part.checks, "src", attrs.src, "(missing)", `Incomplete update package: part "${name}" names "${attrs.src}", which the zip does not hold`);
    return part;
  }
  part.checks.push({ check: "src", expected: attrs.src, actual: part.entry.name, ok: true });
  const data = part.entry.data;
  if (attrs.size !== undefined) {
    check(part.checks, "size", String(attrs.size), String(data.length), `Size mismatch: ${label}: the manifest says ${attrs.size} bytes, the file has ${data.length}`);
  }
  for (const [attr, algorithm] of [["cs_sha1", "sha1"], ["cs_sha256", "sha256"]] as const) {
    const expected = attrs[attr];
    if (expected === undefined) continue;
    const actual = digest(algorithm, data);
    check(part.checks, attr, expected.toLowerCase(), actual, `Digest mismatch: ${label}: ${attr} is ${expected} in the manifest, ${actual} of the file`);
  }
  if (attrs.type === "app") checkAppImage(part, manifest, label);
  return part;
}

/** Throws on a fault of the archive or the manifest; reports each part's checks. */
export function parseFwZip(zip: Uint8Array): FwZipContents {
  const entries = readStoredZip(zip);
  const first = entries[0]!;
  if (fileNameOf(first.name) !== MANIFEST_FILE_NAME) {
    throw new FwZipError(`manifest.json is not the first entry (the first is "${first.name}"); the device reads the manifest before any part`);
  }
  const byFile = new Map<string, StoredZipEntry>();
  for (const entry of entries) {
    const file = fileNameOf(entry.name);
    checkFileName(file, `entry "${entry.name}": file name`);
    if (byFile.has(file)) throw new FwZipError(`Malformed archive: two entries are named "${file}" ("${byFile.get(file)!.name}", "${entry.name}")`);
    byFile.set(file, entry);
  }
  const manifest = decodeFwManifest(first.data);
  const parts = Object.entries(manifest.parts).map(([name, attrs]) => checkPart(name, attrs, byFile, manifest));
  const failures = parts.flatMap((part) => part.checks.flatMap((c) => (c.failure ? [c.failure] : [])));
  return { manifest, entries, parts, failures };
}

/** parseFwZip() that also throws on the first failed part check. */
export function readFwZip(zip: Uint8Array): FwZipContents {
  const contents = parseFwZip(zip);
  if (contents.failures.length > 0) throw new FwZipError(contents.failures[0]!);
  return contents;
}
