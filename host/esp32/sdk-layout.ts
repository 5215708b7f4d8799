// What the ESP32 build takes from the Moddable SDK and ESP-IDF, as the
// project names it: the $(MODDABLE) paths of the manifests and the #includes
// of the native module. The lists these are checked against were written from
// the real trees (write-sdk-layout.ts); the checks themselves run without them.

import fs from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
/** Paths our manifests name in Moddable SDK 7.2.1, each found there. */
export const MODDABLE_LAYOUT = path.join(ROOT, "host/esp32/moddable-7.2.1-layout.txt");
/** Include names that resolve on Moddable's ESP32 module include path, and to what. */
export const INCLUDE_NAMES = path.join(ROOT, "host/esp32/esp-idf-v5.5.1-includes.txt");
/** The native module's C files: what mcconfig compiles for the device and host/vboard's Makefile for the board. */
export const NATIVE_SOURCES = fs
  .readdirSync(path.join(ROOT, "modules/esp32"))
  .filter((f) => f.endsWith(".c"))
  .map((f) => path.join(ROOT, "modules/esp32", f));

/** manifest.json and every board's manifest.json (what `make esp32` hands mcconfig). */
export function projectManifests(): string[] {
  const boards = path.join(ROOT, "boards");
  const boardManifests = fs
    .readdirSync(boards, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(boards, e.name, "manifest.json"))
    .filter((f) => fs.existsSync(f));
  return [path.join(ROOT, "manifest.json"), ...boardManifests];
}

/** Every string of a manifest that names a path in the Moddable SDK, whatever its key. */
export function moddablePaths(manifestFile: string): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === "string") {
      if (value.includes("$(MODDABLE)")) found.add(value);
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value && typeof value === "object") {
      Object.values(value).forEach(walk);
    }
  };
  walk(JSON.parse(fs.readFileSync(manifestFile, "utf8")));
  return [...found];
}

export interface Include {
  readonly name: string;
  /** <name>: the C library's; "name": searched beside the file, then on the include path. */
  readonly angled: boolean;
  readonly line: number;
}

export function includesOf(cFile: string): Include[] {
  const out: Include[] = [];
  fs.readFileSync(cFile, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const m = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/.exec(text);
      if (m) out.push({ name: m[2]!, angled: m[1] === "<", line: i + 1 });
    });
  return out;
}

/** The lines of a committed list, without its comment lines. */
export function readList(file: string): string[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
}

/** INCLUDE_NAMES as name -> where it resolves ($(IDF_PATH)/..., $(MODDABLE)/..., $(TMP_DIR)/...). */
export function readIncludeNames(file = INCLUDE_NAMES): Map<string, string> {
  return new Map(readList(file).map((line) => line.split("\t") as [string, string]));
}
