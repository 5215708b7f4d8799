// Writes the two lists host/esp32-sdk-layout.test.ts checks against, from the
// real trees (docs/esp32.md, "Checked with the real tools"):
//
//   MODDABLE=<Moddable 7.2.1> IDF_PATH=<ESP-IDF v5.5.1> npx tsx host/esp32/write-sdk-layout.ts
//
// after mcconfig has written the debug makefiles of esp32, esp32/esp32s3 and
// esp32/esp32c3: the include path is read from them (C_INCLUDES, what the
// device compile uses). Fails, naming it, on any path or include that the
// trees do not resolve.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { INCLUDE_NAMES, MODDABLE_LAYOUT, NATIVE_SOURCES, ROOT, includesOf, moddablePaths, projectManifests } from "./sdk-layout.ts";

const PLATFORMS = ["esp32", "esp32/esp32s3", "esp32/esp32c3"];
/** The ESP-IDF components the native module calls (DESIGN.md, the native seam). */
const COMPONENTS = [
  "app_update", "bootloader_support", "esp_app_format", "esp_common", "esp_hw_support", "esp_partition",
  "esp_rom", "esp_system", "esp_timer", "log", "nvs_flash", "spi_flash",
];
const MODULE_EXTENSIONS = [".js", ".ts", ".c", ".h"];

function required(name: string): string {
  const value = process.env[name];
  if (!value || !fs.existsSync(value)) throw new Error(`${name} must name the tree (it is ${value ?? "unset"})`);
  return path.resolve(value);
}

const moddable = required("MODDABLE");
const idf = required("IDF_PATH");

/** As mcconfig resolves a manifest's path: a file, a `dir/*`, or a module path without extension. */
function existsInModdable(named: string): boolean {
  const p = named.replace("$(MODDABLE)", moddable);
  if (p.endsWith("/*")) return fs.statSync(p.slice(0, -2), { throwIfNoEntry: false })?.isDirectory() ?? false;
  return fs.existsSync(p) || MODULE_EXTENSIONS.some((ext) => fs.existsSync(p + ext));
}

function writeModdableLayout(): void {
  const named = [...new Set(projectManifests().flatMap(moddablePaths))].sort();
  const missing = named.filter((p) => !existsInModdable(p));
  if (missing.length) throw new Error(`not in ${moddable}: ${missing.join(", ")}`);
  const header = [
    "# Moddable SDK 7.2.1 (tag 7.2.1): every $(MODDABLE) path that manifest.json and boards/*/manifest.json name,",
    "# each found in that tree as mcconfig resolves it. Written by host/esp32/write-sdk-layout.ts (docs/esp32.md).",
  ];
  fs.writeFileSync(MODDABLE_LAYOUT, [...header, ...named, ""].join("\n"));
}

/** The -I directories of the device compile, in order, from mcconfig's makefile for a platform. */
function includeDirs(platform: string): { dirs: string[]; tmp: string } {
  const tmp = path.join(moddable, "build/tmp", platform, "debug/xs-ota");
  const makefile = path.join(tmp, "makefile");
  if (!fs.existsSync(makefile)) throw new Error(`no ${makefile}: run mcconfig -d -p ${platform} first`);
  const printer = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-layout-")), "print.mk");
  fs.writeFileSync(printer, "print-%: ; @echo '$($*)'\n");
  // IDF_VERSION and SDKCONFIG_H: what idf.py would provide, not needed to print a variable.
  const out = execFileSync("make", ["-s", "-f", makefile, "-f", printer, `IDF_PATH=${idf}`, "IDF_VERSION=v5.5.1", "SDKCONFIG_H=", "print-C_INCLUDES"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  fs.rmSync(path.dirname(printer), { recursive: true, force: true });
  return { dirs: out.split(/\s+/).filter((s) => s.startsWith("-I")).map((s) => path.resolve(s.slice(2))), tmp };
}

/** Where a quoted include found on the include path resolves, as gcc searches it. */
function resolve(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
  }
  return undefined;
}

function symbolic(file: string, tmp: string): string {
  for (const [root, name] of [[tmp, "$(TMP_DIR)"], [idf, "$(IDF_PATH)"], [moddable, "$(MODDABLE)"]] as const) {
    if (file.startsWith(root + path.sep)) return `${name}/${path.relative(root, file)}`;
  }
  throw new Error(`${file} is outside the trees`);
}

function writeIncludeNames(): void {
  const chips = PLATFORMS.map(includeDirs);
  // The names every listed header can be included by: relative to each -I directory that holds it.
  const candidates = new Set<string>();
  for (const component of COMPONENTS) {
    const dir = path.join(idf, "components", component, "include");
    for (const header of fs.readdirSync(dir).filter((f) => f.endsWith(".h"))) {
      for (const { dirs } of chips) {
        for (const d of dirs) if (path.join(dir, header).startsWith(d + path.sep)) candidates.add(path.relative(d, path.join(dir, header)));
      }
    }
  }
  for (const source of NATIVE_SOURCES) {
    for (const include of includesOf(source)) {
      if (include.angled || fs.existsSync(path.join(path.dirname(source), include.name))) continue;
      candidates.add(include.name);
      for (const [i, { dirs }] of chips.entries()) {
        if (!resolve(include.name, dirs)) throw new Error(`${path.relative(ROOT, source)}:${include.line}: "${include.name}" does not resolve for ${PLATFORMS[i]}`);
      }
    }
  }
  // Kept: names that resolve, on every chip, to the same file (the first found, as gcc takes it);
  // of the names of one file, the shortest, the one Moddable's own C uses: one include form.
  const byFile = new Map<string, string>();
  for (const name of [...candidates].sort()) {
    const where = chips.map(({ dirs, tmp }) => {
      const file = resolve(name, dirs);
      return file && symbolic(file, tmp);
    });
    if (!where[0] || !where.every((w) => w === where[0])) continue;
    const kept = byFile.get(where[0]);
    if (!kept || name.split("/").length < kept.split("/").length) byFile.set(where[0], name);
  }
  const lines = [...byFile].map(([file, name]) => `${name}\t${file}`).sort();
  const header = [
    "# Include names that resolve on Moddable SDK 7.2.1's ESP32 module include path (C_INCLUDES of the makefiles",
    `# mcconfig writes for ${PLATFORMS.join(", ")}), with ESP-IDF v5.5.1 as IDF_PATH: the public headers of the`,
    `# components the native module calls (${COMPONENTS.join(", ")}), and the`,
    "# native module's includes. Each name, a tab, and the file it resolves to on all three; of the names of one",
    "# file only the shortest (one include form per header). Written by",
    "# host/esp32/write-sdk-layout.ts (docs/esp32.md).",
  ];
  fs.writeFileSync(INCLUDE_NAMES, [...header, ...lines, ""].join("\n"));
}

writeModdableLayout();
writeIncludeNames();
console.log(`wrote ${path.relative(ROOT, MODDABLE_LAYOUT)} and ${path.relative(ROOT, INCLUDE_NAMES)}`);
