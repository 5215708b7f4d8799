// manifest.json of a fw.zip (spec/mos-rpc.md §3.2): what mgos_fw_meta.py
// writes and what the device requires. Encoded as Python's
// json.dumps(manifest, indent=2, sort_keys=True), the call mgos_fw_meta.py
// makes, so our packages and mos's are written alike, down to the \u escapes.

import { FwZipError } from "./fw-zip-error.js";

export interface FwPart {
  type?: string;
  /** File name in the zip, without the package directory. */
  src?: string;
  size?: number;
  cs_sha1?: string;
  cs_sha256?: string;
  /** Partition label a flasher writes the part to; OTA routes `app` to the inactive slot instead. */
  ptn?: string;
  [attr: string]: unknown;
}

export interface FwManifest {
  name?: string;
  platform: string;
  version: string;
  build_id: string;
  build_timestamp?: string;
  description?: string;
  parts: Record<string, FwPart>;
  [attr: string]: unknown;
}

/** What the device refuses a package without ("Required manifest field missing"). */
export const REQUIRED_MANIFEST_FIELDS = ["platform", "version", "build_id", "parts"] as const;

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted = Object.keys(value).sort();
    return Object.fromEntries(sorted.map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
  }
  if (typeof value === "number" && !Number.isInteger(value)) {
    // Python prints floats its own way (1.0, 1e+21 vs 1e21); manifests hold integers.
    throw new FwZipError(`manifest value ${value} is not an integer`);
  }
  return value;
}

/** Python's ensure_ascii: everything outside printable ASCII as a lower-case \uXXXX escape. */
function asciiOnly(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

export function encodeFwManifest(manifest: FwManifest): Buffer {
  return Buffer.from(asciiOnly(JSON.stringify(sortKeys(manifest), null, 2)), "ascii");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Parse and check what the device checks: JSON, then the required fields and their types. */
export function decodeFwManifest(bytes: Uint8Array): FwManifest {
  let json: unknown;
  try {
    json = JSON.parse(strictUtf8.decode(bytes));
  } catch (e) {
    throw new FwZipError(`Failed to parse manifest: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new FwZipError("Failed to parse manifest: it is not a JSON object");
  for (const field of REQUIRED_MANIFEST_FIELDS) {
    if (!(field in json)) throw new FwZipError(`Required manifest field missing: ${field}`);
    const ok = field === "parts" ? isObject(json[field]) : typeof json[field] === "string";
    if (!ok) {
      throw new FwZipError(`Required manifest field missing: ${field} must be ${field === "parts" ? "an object" : "a string"}, not ${JSON.stringify(json[field])}`);
    }
  }
  for (const [name, part] of Object.entries(json.parts as Record<string, unknown>)) {
    if (!isObject(part)) throw new FwZipError(`manifest part "${name}" is not an object`);
    if ("src" in part && typeof part.src !== "string") {
      // mos also knows directory parts (src an object of files); no ESP32 part of ours is one.
      throw new FwZipError(`manifest part "${name}": src must be a file name; directory parts are not supported`);
    }
    if ("size" in part && !(Number.isInteger(part.size) && (part.size as number) >= 0)) {
      throw new FwZipError(`manifest part "${name}": size must be a non-negative integer, not ${JSON.stringify(part.size)}`);
    }
    for (const attr of ["cs_sha1", "cs_sha256"] as const) {
      if (attr in part && !(typeof part[attr] === "string" && /^[0-9a-f]+$/i.test(part[attr] as string))) {
        throw new FwZipError(`manifest part "${name}": ${attr} must be hex digits, not ${JSON.stringify(part[attr])}`);
      }
    }
  }
  return json as FwManifest;
}
