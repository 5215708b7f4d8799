// A fw.zip around one ESP-IDF app image, its manifest derived from the
// image's own esp_app_desc_t, so the package cannot disagree with what the
// device will report once it runs the image: fw_version = the descriptor's
// version, fw_id = buildId(date, time, version) (modules/sys/identity.ts).
// With the flash parts (boot, pt, otadata) it is a package `mos flash` can
// put on a blank board too; without them it is good for OTA only.

import { buildId } from "sys/identity";
import type { AppDescription } from "./app-desc.js";
import { verifyAppImage } from "./app-image.js";
import { APP_PARTITION, flashParts, type FlashPartsSource } from "./flash-parts.js";
import { buildFwZip, type BuiltFwZip } from "./fw-zip.js";

export const PLATFORM = "esp32";

export interface AppBuildInfo {
  version: string;
  buildId: string;
  /** ISO-8601 UTC; absent when the descriptor has no date (a reproducible IDF build). */
  buildTimestamp?: string;
  builtAt?: Date;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The instant a C compiler's __DATE__ and __TIME__ name, read as UTC (how our builder writes them). */
export function parseCompilerDateTime(date: string, time: string): Date | undefined {
  const d = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{4})$/.exec(date.trim());
  const t = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time.trim());
  const month = d ? MONTHS.indexOf(d[1]!) : -1;
  if (!d || !t || month < 0) return undefined;
  return new Date(Date.UTC(Number(d[3]), month, Number(d[2]), Number(t[1]), Number(t[2]), Number(t[3])));
}

export function appBuildInfo(desc: AppDescription): AppBuildInfo {
  const builtAt = parseCompilerDateTime(desc.date, desc.time);
  return {
    version: desc.version,
    buildId: buildId(desc.date, desc.time, desc.version),
    ...(builtAt && { builtAt, buildTimestamp: builtAt.toISOString().replace(/\.\d{3}Z$/, "Z") }),
  };
}

export interface PackageAppImageOptions {
  /** Package name; defaults to the descriptor's project name. */
  name?: string;
  description?: string;
  platform?: string;
  /** The app part's file name; defaults to "<name>.bin", as mos names it. */
  src?: string;
  /** What a flasher writes beside the app on a blank board. */
  flash?: FlashPartsSource;
}

/** Refuses an image the bootloader would refuse. */
export function packageAppImage(image: Uint8Array, options: PackageAppImageOptions = {}): BuiltFwZip {
  const desc = verifyAppImage(image).appDesc!;
  const info = appBuildInfo(desc);
  const name = options.name ?? desc.projectName;
  return buildFwZip({
    name,
    platform: options.platform ?? PLATFORM,
    version: info.version,
    buildId: info.buildId,
    buildTimestamp: info.buildTimestamp,
    description: options.description,
    // In flash order, as mgos lists them (FW_PARTS): boot, pt, otadata, app.
    files: [
      ...(options.flash ? flashParts(options.flash) : []),
      { part: "app", src: options.src ?? `${name}.bin`, data: image, attrs: { type: "app", ptn: APP_PARTITION, encrypt: true } },
    ],
    modified: info.builtAt ?? new Date(Date.UTC(1980, 0, 1)),
  });
}
