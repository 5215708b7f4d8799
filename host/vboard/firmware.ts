// Builds the firmware for the virtual board the way mcconfig builds it for an
// ESP32: manifest.json's module map (top level plus platforms.vboard) names
// every module; each TypeScript module is compiled on its own to an ES module
// that keeps its bare import specifiers; the result is packed into a real
// ESP-IDF app image. Imports that no module of the map provides are refused
// here, with the importing module named, instead of failing at boot; so is a
// native()/Native() that xsc would not bind on the device (native-calls.ts).

import fs from "node:fs";
import path from "node:path";
import { transform } from "esbuild";
import { buildVirtualBoardImage, compilerDateTime } from "../fwpack/index.ts";
import { nativeCallErrors } from "./native-calls.ts";

/** Modules the XS host provides itself (Moddable's built-ins, and mc/config from --config). */
export const HOST_BUILTINS = new Set(["timer", "text/decoder", "text/encoder", "socket", "mc/config", "logical"]);

export interface ManifestModules {
  /** specifier -> path without extension, relative to the manifest. */
  readonly modules: ReadonlyMap<string, string>;
}

type ModuleMap = Record<string, string | string[]>;
interface Manifest {
  modules?: ModuleMap;
  platforms?: Record<string, { modules?: ModuleMap }>;
}

/** The module map for one platform: the top level overlaid with the platform's. */
export function manifestModules(manifestPath: string, platform: string): Map<string, string> {
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as Manifest;
  const dir = path.dirname(manifestPath);
  const out = new Map<string, string>();
  for (const map of [manifest.modules ?? {}, manifest.platforms?.[platform]?.modules ?? {}]) {
    for (const [specifier, target] of Object.entries(map)) {
      if (specifier === "~") continue;
      if (specifier === "*") {
        // "*": a list of paths, each module named by its file's basename.
        for (const p of ([] as string[]).concat(target)) out.set(path.basename(p), path.resolve(dir, p));
      } else {
        out.set(specifier, path.resolve(dir, String(target)));
      }
    }
  }
  return out;
}

export class FirmwareBuildError extends Error {
  override readonly name = "FirmwareBuildError";
}

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?["']([^"']+)["']/g;

/** Specifiers a compiled module imports (static imports and re-exports). */
export function importedSpecifiers(js: string): string[] {
  const found = new Set<string>();
  for (const m of js.matchAll(IMPORT_RE)) found.add(m[1]!);
  return [...found];
}

/**
 * Compile every JavaScript/TypeScript module of the map. Entries that are only
 * C (the native module) are compiled into the board binary instead.
 */
export async function compileFirmwareModules(manifestPath: string, platform = "vboard"): Promise<Array<[string, string]>> {
  const compiled: Array<[string, string]> = [];
  const refused: string[] = [];
  for (const [specifier, base] of manifestModules(manifestPath, platform)) {
    const source = [".ts", ".js"].map((ext) => base + ext).find((f) => fs.existsSync(f));
    if (!source) {
      if (fs.existsSync(base + ".c")) continue;
      throw new FirmwareBuildError(`manifest.json maps "${specifier}" to ${path.relative(process.cwd(), base)}, which has no .ts, .js or .c file`);
    }
    let code: string;
    let map: string;
    try {
      const result = await transform(fs.readFileSync(source, "utf8"), {
        loader: source.endsWith(".ts") ? "ts" : "js",
        format: "esm",
        target: "es2022",
        sourcefile: source,
        sourcemap: "external",
      });
      ({ code, map } = result);
    } catch (e) {
      throw new FirmwareBuildError(`cannot compile ${source}: ${(e as Error).message}`);
    }
    const file = path.relative(process.cwd(), source);
    for (const error of await nativeCallErrors(code, map)) refused.push(`module "${specifier}" (${file}:${error.line}): ${error.message}`);
    compiled.push([specifier, code]);
  }
  refuseNativeCalls(refused);
  checkImports(new Map(compiled), platform);
  return compiled;
}

function refuseNativeCalls(refused: readonly string[]): void {
  if (refused.length) throw new FirmwareBuildError(`xsc would refuse this firmware for the device:\n  ${refused.join("\n  ")}`);
}

export interface FirmwareImageOptions {
  manifestPath: string;
  version: string;
  projectName?: string;
  /** Build time; defaults to now (whole seconds). */
  builtAt?: Date;
  /** Modules to replace or add (specifier, JavaScript source): test firmware that fails on purpose. */
  override?: Iterable<readonly [string, string]>;
}

/** Refuse a module set in which some import has no module to resolve to. */
export function checkImports(modules: ReadonlyMap<string, string>, platform = "vboard"): void {
  for (const [name, code] of modules) {
    for (const imported of importedSpecifiers(code)) {
      if (!modules.has(imported) && !HOST_BUILTINS.has(imported)) {
        throw new FirmwareBuildError(`module "${name}" imports "${imported}", which manifest.json does not map for platform ${platform}`);
      }
    }
  }
}

/** The virtual board's app image of the firmware in this repository. */
export async function buildFirmwareImage(options: FirmwareImageOptions): Promise<Buffer> {
  const modules = new Map(await compileFirmwareModules(options.manifestPath));
  const refused: string[] = [];
  for (const [specifier, source] of options.override ?? []) {
    for (const error of await nativeCallErrors(source)) refused.push(`module "${specifier}" line ${error.line}: ${error.message}`);
    modules.set(specifier, source);
  }
  refuseNativeCalls(refused);
  checkImports(modules);
  return buildVirtualBoardImage({
    version: options.version,
    projectName: options.projectName ?? "xs-ota",
    modules,
    ...compilerDateTime(options.builtAt ?? new Date(Math.floor(Date.now() / 1000) * 1000)),
  });
}
