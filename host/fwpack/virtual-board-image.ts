// The virtual board's firmware as a real ESP32 app image: segment 0 is the
// esp_app_desc_t (DROM, 0x3F400020), segment 1 the module archive (DROM, right
// after it). Both are mapped the way the ESP32 cache would map the image from a
// 64 KB-aligned slot: load address = 0x3F400000 + offset of the data in the
// image. The header's chip id is ChipId.VIRTUAL_BOARD, so that no real
// bootloader starts it (it would run no Xtensa code).
//
// There is no ELF, so app_elf_sha256 identifies the build instead: the
// SHA-256 of the descriptor (with app_elf_sha256 zero) followed by the module
// archive. Everything that defines a build is in one of them: the code, the
// version, project name, build time and date, IDF version and secure
// version; so two builds differ in it when anything of that differs, and a
// build under the same SOURCE_DATE_EPOCH has the same one.

import { createHash } from "node:crypto";
import { APP_DESC_OFFSETS, encodeAppDescription, type AppDescription } from "./app-desc.js";
import { APP_DESC_IMAGE_OFFSET, ESP32_DROM, SEGMENT_HEADER_SIZE, buildAppImage, type SegmentInput } from "./app-image.js";
import { AppImageError, hex } from "./errors.js";
import { ChipId } from "./image-header.js";
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
  };
  const descBytes = encodeAppDescription(desc);
  createHash("sha256").update(descBytes).update(archive).digest().copy(descBytes, APP_DESC_OFFSETS.appElfSha256);
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
  return buildAppImage({ segments, header: { chipId: ChipId.VIRTUAL_BOARD } });
}
