// The virtual board's firmware as a real ESP32 app image: segment 0 is the
// esp_app_desc_t (DROM, 0x3F400020), segment 1 the module archive (DROM, right
// after it). Both are mapped the way the ESP32 cache would map the image from a
// 64 KB-aligned slot: load address = 0x3F400000 + offset of the data in the
// image. app_elf_sha256 holds the SHA-256 of the module archive (there is no
// ELF), so esp_app_get_elf_sha256() identifies the payload.

import { createHash } from "node:crypto";
import { encodeAppDescription, type AppDescription } from "./app-desc.js";
import { APP_DESC_IMAGE_OFFSET, ESP32_DROM, SEGMENT_HEADER_SIZE, buildAppImage, type SegmentInput } from "./app-image.js";
import { AppImageError, hex } from "./errors.js";
import { encodeModuleArchive, type ModuleSources } from "./module-archive.js";

export const APP_DESC_LOAD_ADDR = ESP32_DROM.low + APP_DESC_IMAGE_OFFSET;
/** The IDF release the Moddable SDK 6.x/7.x expects (build.EXPECTED_ESP_IDF). */
export const DEFAULT_IDF_VERSION = "v5.5.1";
export const ENTRY_MODULE = "main";

export interface VirtualBoardImageOptions {
  version: string;
  projectName: string;
  /** Module specifier -> ES module source; must include "main". */
  modules: ModuleSources;
  time?: string;
  date?: string;
  idfVer?: string;
  secureVersion?: number;
}

export function buildVirtualBoardImage(options: VirtualBoardImageOptions): Buffer {
  const modules = [...options.modules];
  const archive = encodeModuleArchive(modules);
  if (!modules.some(([name]) => name === ENTRY_MODULE)) throw new AppImageError(`the modules have no entry module "${ENTRY_MODULE}"`);
  const desc: Partial<AppDescription> & Pick<AppDescription, "version" | "projectName" | "idfVer"> = {
    version: options.version,
    projectName: options.projectName,
    idfVer: options.idfVer ?? DEFAULT_IDF_VERSION,
    time: options.time,
    date: options.date,
    secureVersion: options.secureVersion,
    appElfSha256: createHash("sha256").update(archive).digest(),
  };
  const descBytes = encodeAppDescription(desc);
  const archiveDataOffset = APP_DESC_IMAGE_OFFSET + descBytes.length + SEGMENT_HEADER_SIZE;
  const archiveLoadAddr = ESP32_DROM.low + archiveDataOffset;
  const archiveEnd = archiveLoadAddr + ((archive.length + 3) & ~3);
  if (archiveEnd > ESP32_DROM.high) {
    throw new AppImageError(`module archive of ${hex(archive.length)} bytes does not fit the ESP32's 4 MB DROM window`);
  }
  const segments: SegmentInput[] = [
    { loadAddr: APP_DESC_LOAD_ADDR, data: descBytes },
    { loadAddr: archiveLoadAddr, data: archive },
  ];
  return buildAppImage({ segments });
}
