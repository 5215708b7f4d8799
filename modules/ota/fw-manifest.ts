// What an fw.zip asks this board to do, decided from its manifest.json before
// a single flash byte changes (spec/mos-rpc.md §3.2, §3.3). Mongoose OS's ESP32
// backend writes `app` into the inactive slot, `fs` into the slot's paired fs
// partition and `boot` when `update` is true, and ignores the rest. This board
// differs in two places, both on purpose:
//  - It has no fs partitions (boards/*/partitions.csv), so `fs` is skipped with
//    a log line. Refusing it would refuse every package mos builds, since they
//    all carry fs.img.
//  - It never writes the bootloader: an interrupted bootloader write bricks
//    the board, with no rollback to catch it. A package that asks for one
//    (`update: true`) is refused, because skipping it would report success for
//    an update that did not happen.
// Parts are routed by their key in `parts` (app, fs, boot), as Mongoose OS did.

import { log } from "sys/log";
import { UpdateCode, UpdateError } from "ota/update-error";
import { MAX_MANIFEST_SIZE } from "ota/zip-stream";
import { decodeUtf8 } from "sys/utf8";
import { JSON_LIMITS, jsonLimitError, otherMembers, readJson, type JsonLimits } from "sys/json-limits";
import { holdNames } from "sys/names";

export interface AppPart {
  /** Entry name in the zip, without its directory (ZipEntry.name). */
  readonly src: string;
  /** Image size in bytes, when the manifest states it. */
  readonly size?: number;
  /** Lower-case hex digests of the image; at least one is present. */
  readonly sha1?: string;
  readonly sha256?: string;
}

export interface UpdatePlan {
  readonly platform: string;
  readonly version: string;
  readonly buildId: string;
  /** The image for the inactive app slot. */
  readonly app: AppPart;
  /** Keys of the parts this board leaves alone (each logged once with the reason). */
  readonly skipped: readonly string[];
}

type Json = Readonly<Record<string, unknown>>;

const REQUIRED = ["platform", "version", "build_id", "parts"] as const;
// The names read from a manifest by string: kept by readJson whatever the allowance of new names (sys/names).
holdNames([...REQUIRED, "app", "boot", "update", "src", "size", "cs_sha1", "cs_sha256"]);
/**
 * mos's fw.zip for an ESP32 has about six parts (boot, pt, otadata, app, fs,
 * nvs); each is logged as it is skipped, so their number is bounded first.
 */
export const MAX_PARTS = 32;
/** A manifest's JSON: mos's has about 100 values, 3 levels deep; a frame's limits, but 8 levels. */
export const MANIFEST_LIMITS: JsonLimits = { ...JSON_LIMITS, maxDepth: 8 };
const SHA1 = /^[0-9a-f]{40}$/i;
const SHA256 = /^[0-9a-f]{64}$/i;

/**
 * Validates the manifest (UTF-8 bytes as read from the zip, or text) against
 * this device and returns the plan, or throws an UpdateError saying why the
 * package is refused.
 */
export function planUpdate(manifest: Uint8Array | string, devicePlatform = "esp32"): UpdatePlan {
  if (manifest.length > MAX_MANIFEST_SIZE) {
    throw new UpdateError(UpdateCode.MANIFEST_TOO_BIG, `${manifest.length} bytes, at most ${MAX_MANIFEST_SIZE}`);
  }
  // Over the limits, it is refused from its bytes, before its text is made (as large again).
  const overLimit = jsonLimitError(manifest, MANIFEST_LIMITS);
  if (overLimit) throw new UpdateError(UpdateCode.MANIFEST_PARSE, `manifest has ${overLimit}`);
  const root = parseObject(typeof manifest === "string" ? manifest : decodeUtf8(manifest));

  const missing = REQUIRED.filter((field) => root[field] === undefined || root[field] === null || root[field] === "");
  if (missing.length > 0) throw new UpdateError(UpdateCode.FIELD_MISSING, missing.join(", "));
  const platform = stringField(root, "platform");
  const version = stringField(root, "version");
  const buildId = stringField(root, "build_id");
  const parts = objectField(root, "parts", "parts");

  if (platform.toLowerCase() !== devicePlatform.toLowerCase()) {
    throw new UpdateError(UpdateCode.WRONG_PLATFORM, `package is for ${platform}, this device is ${devicePlatform}`);
  }

  // Parts the firmware has no name for (set aside by readJson) are skipped like the others.
  const unnamed = otherMembers(parts);
  const keys = unnamed ? Object.keys(parts).concat(Array.from(unnamed.keys())) : Object.keys(parts);
  if (keys.length > MAX_PARTS) throw new UpdateError(UpdateCode.INVALID_MANIFEST, `parts lists ${keys.length} parts, at most ${MAX_PARTS}`);
  let app: AppPart | undefined;
  const skipped: string[] = [];
  for (const key of keys) {
    const part = unnamed?.has(key) ? unnamed.get(key) : parts[key];
    if (!isObject(part)) throw new UpdateError(UpdateCode.INVALID_MANIFEST, `parts.${key} must be an object`);
    if (key === "app") {
      app = appPart(part);
      continue;
    }
    if (key === "boot" && updateRequested(part.update)) {
      throw new UpdateError(UpdateCode.BOOT_UPDATE, "the package sets parts.boot.update; build it without the bootloader update");
    }
    skipped.push(key);
    log.info("ota", `package part ${key} skipped: ${skipReason(key)}`);
  }
  if (!app) throw new UpdateError(UpdateCode.INCOMPLETE_PACKAGE, "no app part");
  return { platform, version, buildId, app, skipped };
}

function skipReason(key: string): string {
  if (key === "fs") return "this board has no fs partition";
  if (key === "boot") return "bootloader not marked for update";
  return "not written over the air";
}

/** mgos_fw_meta.py writes booleans, but an attribute given on the make command line may arrive as "true". */
function updateRequested(value: unknown): boolean {
  return value === true || value === "true";
}

function appPart(part: Json): AppPart {
  const src = part.src;
  if (src === undefined || src === null || src === "") throw new UpdateError(UpdateCode.FIELD_MISSING, "parts.app.src");
  if (typeof src !== "string") throw new UpdateError(UpdateCode.INVALID_MANIFEST, "parts.app.src must be a file name");
  const size = part.size;
  if (size !== undefined && (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)) {
    throw new UpdateError(UpdateCode.INVALID_MANIFEST, "parts.app.size must be a byte count");
  }
  const sha1 = digest(part, "cs_sha1", SHA1, 40);
  const sha256 = digest(part, "cs_sha256", SHA256, 64);
  // Without a digest nothing proves that what was written is what was built.
  if (!sha1 && !sha256) throw new UpdateError(UpdateCode.FIELD_MISSING, "parts.app.cs_sha1 or parts.app.cs_sha256");
  return { src, size, sha1, sha256 };
}

/** A hex digest, lower-cased (hex case carries no meaning, and the digest check compares strings). */
function digest(part: Json, name: string, pattern: RegExp, digits: number): string | undefined {
  const value = part[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new UpdateError(UpdateCode.INVALID_MANIFEST, `parts.app.${name} must be ${digits} hex digits`);
  }
  return value.toLowerCase();
}

function parseObject(text: string): Json {
  const read = readJson(text, MANIFEST_LIMITS);
  if (!read.ok) throw new UpdateError(UpdateCode.MANIFEST_PARSE, read.overLimit ? `manifest has ${read.reason}` : read.reason);
  if (!isObject(read.value)) throw new UpdateError(UpdateCode.MANIFEST_PARSE, "not a JSON object");
  return read.value;
}

function stringField(object: Json, name: string): string {
  const value = object[name];
  if (typeof value !== "string") throw new UpdateError(UpdateCode.INVALID_MANIFEST, `${name} must be a string`);
  return value;
}

function objectField(object: Json, name: string, path: string): Json {
  const value = object[name];
  if (!isObject(value)) throw new UpdateError(UpdateCode.INVALID_MANIFEST, `${path} must be an object`);
  return value;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
