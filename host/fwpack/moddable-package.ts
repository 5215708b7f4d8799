// A mos-format fw.zip of a Moddable ESP32 build (mcconfig + ESP-IDF), with the
// ESP32 parts of spec/mos-rpc.md §3.2: the app for OTA, and the bootloader,
// partition table and initial otadata that a flasher (or mos flash) needs for
// a fresh board (flash-parts.ts). The device's updater writes only the app.

import fs from "node:fs";
import path from "node:path";
import { verifyAppImage } from "./app-image.js";
import { packageAppImage } from "./app-package.js";
import type { BuiltFwZip } from "./fw-zip.js";
import { ChipId } from "./image-header.js";

export const ESP32_BOARDS = {
  esp32: { chipId: ChipId.ESP32, bootloaderAddr: 0x1000 },
  esp32s3: { chipId: ChipId.ESP32S3, bootloaderAddr: 0x0 },
  esp32c3: { chipId: ChipId.ESP32C3, bootloaderAddr: 0x0 },
} as const;
export type Esp32Board = keyof typeof ESP32_BOARDS;

/**
 * Where each file is in an ESP-IDF build directory (mcconfig's
 * xsProj-<subclass>/build), or flat in one directory.
 */
const FILES = {
  app: ["xs_esp32.bin"],
  boot: ["bootloader/bootloader.bin", "bootloader.bin"],
  pt: ["partition_table/partition-table.bin", "partition-table.bin"],
  otadata: ["ota_data_initial.bin"],
} as const;

function find(dir: string, part: keyof typeof FILES): Buffer {
  for (const rel of FILES[part]) {
    const file = path.join(dir, rel);
    if (fs.existsSync(file)) return fs.readFileSync(file);
  }
  throw new Error(`${dir} has no ${FILES[part].join(" or ")}: is it the build directory of a Moddable ESP32 build (xsProj-<subclass>/build)?`);
}

export function packageModdableBuild(dir: string, board: Esp32Board = "esp32"): BuiltFwZip {
  const { chipId, bootloaderAddr } = ESP32_BOARDS[board];
  const app = find(dir, "app");
  verifyAppImage(app, { chipId });
  return packageAppImage(app, {
    platform: "esp32",
    src: "xs_esp32.bin",
    flash: { boot: { data: find(dir, "boot"), addr: bootloaderAddr }, pt: find(dir, "pt"), otadata: find(dir, "otadata") },
  });
}
