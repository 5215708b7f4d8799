// An ESP-IDF app image: header, segments ({load_addr, data_len} + data),
// zero padding whose last byte is the checksum (0xEF xor every data byte) so
// that the length becomes a multiple of 16, then the SHA-256 of all of that.
// Parsing follows esp_image_format.c: structural faults throw at once;
// checksum and hash are reported, and verifyAppImage() turns them into errors.

import { createHash } from "node:crypto";
import { decodeAppDescription, APP_DESC_SIZE, type AppDescription } from "./app-desc.js";
import { AppImageError, hex } from "./errors.js";
import {
  ESP32_DEFAULT_HEADER,
  IMAGE_HEADER_SIZE,
  KNOWN_CHIP_IDS,
  IMAGE_MAX_SEGMENTS,
  decodeImageHeader,
  encodeImageHeader,
  type ImageHeader,
} from "./image-header.js";
import { MODULE_ARCHIVE_MAGIC, decodeModuleArchive } from "./module-archive.js";

export const SEGMENT_HEADER_SIZE = 8;
export const CHECKSUM_SEED = 0xef;
export const IMAGE_HASH_SIZE = 32;
/** data_len must stay below this (SIXTEEN_MB); so must a partition verified as an image. */
export const SIXTEEN_MB = 0x1000000;
export const MMU_PAGE_SIZE = 0x10000;
/** Address windows the ESP32 maps from flash through the cache (SOC_DROM_*, SOC_IROM_*). */
export const ESP32_DROM = { low: 0x3f400000, high: 0x3f800000 } as const;
export const ESP32_IROM = { low: 0x400d0000, high: 0x40400000 } as const;
/** Where esp_app_desc_t sits: right after the header and the first segment header. */
export const APP_DESC_IMAGE_OFFSET = IMAGE_HEADER_SIZE + SEGMENT_HEADER_SIZE;

export interface SegmentInput {
  loadAddr: number;
  data: Uint8Array;
}

export interface AppImageSegment {
  loadAddr: number;
  data: Buffer;
  /** Offset of the segment's data in the image. */
  dataOffset: number;
}

export function isFlashMapped(loadAddr: number): boolean {
  return (loadAddr >= ESP32_DROM.low && loadAddr < ESP32_DROM.high) || (loadAddr >= ESP32_IROM.low && loadAddr < ESP32_IROM.high);
}

/** The checksum byte: 0xEF xor every byte of every segment's data (the word-wise xor of IDF, folded). */
export function imageChecksum(segmentData: Iterable<Uint8Array>): number {
  let sum = CHECKSUM_SEED;
  for (const data of segmentData) for (const byte of data) sum ^= byte;
  return sum;
}

/** Length after the checksum padding: the next multiple of 16 above `unpadded`. */
export function paddedLength(unpadded: number): number {
  return (unpadded + 1 + 15) & ~15;
}

function checkMapping(index: number, loadAddr: number, flashAddress: number): void {
  if (isFlashMapped(loadAddr) && flashAddress % MMU_PAGE_SIZE !== loadAddr % MMU_PAGE_SIZE) {
    throw new AppImageError(
      `segment ${index}: load address ${hex(loadAddr, 8)} does not match its flash offset ${hex(flashAddress)} modulo the 64 KB MMU page`,
    );
  }
}

export interface BuildAppImageOptions {
  segments: readonly SegmentInput[];
  /** Header fields; ESP32_DEFAULT_HEADER for the rest. segment_count comes from `segments`. */
  header?: Partial<Omit<ImageHeader, "segmentCount">>;
}

/**
 * Builds an image to be flashed at a 64 KB-aligned partition offset (as every
 * app partition is). Segment data is zero-padded to 4 bytes.
 */
export function buildAppImage({ segments, header = {} }: BuildAppImageOptions): Buffer {
  if (segments.length > IMAGE_MAX_SEGMENTS) {
    throw new AppImageError(`${segments.length} segments exceed the maximum of ${IMAGE_MAX_SEGMENTS}`);
  }
  const fullHeader: ImageHeader = { ...ESP32_DEFAULT_HEADER, ...header, segmentCount: segments.length };
  const parts: Buffer[] = [encodeImageHeader(fullHeader)];
  const padded: Buffer[] = [];
  let at = IMAGE_HEADER_SIZE;
  segments.forEach(({ loadAddr, data }, index) => {
    if (!Number.isInteger(loadAddr) || loadAddr < 0 || loadAddr > 0xffffffff) {
      throw new AppImageError(`segment ${index}: load address ${loadAddr} is not a u32`);
    }
    const body = Buffer.alloc((data.length + 3) & ~3);
    body.set(data);
    if (body.length >= SIXTEEN_MB) throw new AppImageError(`segment ${index}: ${hex(body.length)} bytes of data; a segment must stay below 16 MB`);
    checkMapping(index, loadAddr, at + SEGMENT_HEADER_SIZE);
    const segmentHeader = Buffer.alloc(SEGMENT_HEADER_SIZE);
    segmentHeader.writeUInt32LE(loadAddr, 0);
    segmentHeader.writeUInt32LE(body.length, 4);
    parts.push(segmentHeader, body);
    padded.push(body);
    at += SEGMENT_HEADER_SIZE + body.length;
  });
  const tail = Buffer.alloc(paddedLength(at) - at);
  tail[tail.length - 1] = imageChecksum(padded);
  parts.push(tail);
  const image = Buffer.concat(parts);
  if (!fullHeader.hashAppended) return image;
  return Buffer.concat([image, createHash("sha256").update(image).digest()]);
}

export interface ParsedAppImage {
  header: ImageHeader;
  segments: AppImageSegment[];
  /** From segment 0; null when segment 0 does not start with a valid esp_app_desc_t. */
  appDesc: AppDescription | null;
  checksum: { stored: number; computed: number };
  checksumOk: boolean;
  /** null when the header says no hash is appended. */
  sha256: { stored: Buffer; computed: Buffer } | null;
  sha256Ok: boolean | null;
  /** Header through hash: what the bootloader reads. */
  imageLength: number;
  /** Bytes after the image in the buffer (0xFF of an erased slot, for instance). */
  trailingBytes: number;
  /** The module archive of a virtual-board image (segment 1 starting with "XSVBMODS"), else undefined. */
  modules?: Map<string, string>;
}

export interface ParseAppImageOptions {
  /** Flash address of the image, for the MMU congruence check; any 64 KB-aligned value is the same. */
  flashOffset?: number;
}

export function parseAppImage(data: Uint8Array, { flashOffset = 0 }: ParseAppImageOptions = {}): ParsedAppImage {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const header = decodeImageHeader(buf);
  const segments: AppImageSegment[] = [];
  let at = IMAGE_HEADER_SIZE;
  for (let index = 0; index < header.segmentCount; index++) {
    if (at + SEGMENT_HEADER_SIZE > buf.length) {
      throw new AppImageError(`image truncated: segment ${index} header at ${hex(at)} needs ${SEGMENT_HEADER_SIZE} bytes, image has ${hex(buf.length)}`);
    }
    const loadAddr = buf.readUInt32LE(at);
    const dataLen = buf.readUInt32LE(at + 4);
    const dataOffset = at + SEGMENT_HEADER_SIZE;
    if (dataLen % 4 !== 0 || dataLen >= SIXTEEN_MB) {
      throw new AppImageError(`segment ${index}: invalid length ${hex(dataLen)} (must be a multiple of 4 below 16 MB)`);
    }
    checkMapping(index, loadAddr, flashOffset + dataOffset);
    if (dataOffset + dataLen > buf.length) {
      throw new AppImageError(
        `segment overflow: segment ${index} has ${hex(dataLen)} bytes at ${hex(dataOffset)}, past the end of the image (${hex(buf.length)} bytes)`,
      );
    }
    segments.push({ loadAddr, data: buf.subarray(dataOffset, dataOffset + dataLen), dataOffset });
    at = dataOffset + dataLen;
  }
  const checksumEnd = paddedLength(at);
  if (checksumEnd > buf.length) {
    throw new AppImageError(`image truncated: the checksum byte at ${hex(checksumEnd - 1)} is past the end (${hex(buf.length)} bytes)`);
  }
  const checksum = { stored: buf[checksumEnd - 1]!, computed: imageChecksum(segments.map((s) => s.data)) };
  let sha256: ParsedAppImage["sha256"] = null;
  let imageLength = checksumEnd;
  if (header.hashAppended) {
    if (checksumEnd + IMAGE_HASH_SIZE > buf.length) {
      throw new AppImageError(`image truncated: the appended SHA-256 at ${hex(checksumEnd)} needs ${IMAGE_HASH_SIZE} bytes, image has ${hex(buf.length)}`);
    }
    sha256 = {
      stored: Buffer.from(buf.subarray(checksumEnd, checksumEnd + IMAGE_HASH_SIZE)),
      computed: createHash("sha256").update(buf.subarray(0, checksumEnd)).digest(),
    };
    imageLength += IMAGE_HASH_SIZE;
  }
  let appDesc: AppDescription | null = null;
  const first = segments[0];
  if (first && first.data.length >= APP_DESC_SIZE) {
    try {
      appDesc = decodeAppDescription(first.data);
    } catch {
      appDesc = null;
    }
  }
  const parsed: ParsedAppImage = {
    header,
    segments,
    appDesc,
    checksum,
    checksumOk: checksum.stored === checksum.computed,
    sha256,
    sha256Ok: sha256 ? sha256.stored.equals(sha256.computed) : null,
    imageLength,
    trailingBytes: buf.length - imageLength,
  };
  const payload = segments[1]?.data;
  if (payload && payload.subarray(0, MODULE_ARCHIVE_MAGIC.length).equals(MODULE_ARCHIVE_MAGIC)) {
    parsed.modules = decodeModuleArchive(payload);
  }
  return parsed;
}

export interface VerifyAppImageOptions extends ParseAppImageOptions {
  /** Size of the partition the image is in; the image must fit (and the partition be at most 16 MB). */
  partitionSize?: number;
  /** The board's chip. Without it, any chip the tools know (ChipId) passes, checked as an image for its own chip. */
  chipId?: number;
  /** The chip's revision as major * 100 + minor; checked against min/max_chip_rev_full when given. */
  chipRevisionFull?: number;
  /** Require a valid esp_app_desc_t (default true: the virtual board's bootloader does). */
  requireAppDesc?: boolean;
}

function revisionText(full: number): string {
  return `v${Math.floor(full / 100)}.${full % 100}`;
}

/**
 * What esp_image_verify() checks, in its order, each failure with its own
 * message: partition size, chip id and revision, segments, checksum, length,
 * SHA-256; then the app descriptor.
 */
export function verifyAppImage(data: Uint8Array, options: VerifyAppImageOptions = {}): ParsedAppImage {
  const { partitionSize, chipId, chipRevisionFull, requireAppDesc = true } = options;
  if (partitionSize !== undefined && partitionSize > SIXTEEN_MB) {
    throw new AppImageError(`partition size ${hex(partitionSize)} is larger than 16 MB`);
  }
  const header = decodeImageHeader(data);
  if (chipId !== undefined && header.chipId !== chipId) throw new AppImageError(`image is for chip id ${header.chipId}, expected ${chipId}`);
  if (chipId === undefined && !KNOWN_CHIP_IDS.has(header.chipId)) throw new AppImageError(`image is for chip id ${header.chipId}, which is no chip these tools know`);
  if (chipRevisionFull !== undefined) {
    if (chipRevisionFull < header.minChipRevFull) {
      throw new AppImageError(`image needs chip revision ${revisionText(header.minChipRevFull)} or later; the chip is ${revisionText(chipRevisionFull)}`);
    }
    const max = header.maxChipRevFull;
    if (max !== 0 && max !== 0xffff && chipRevisionFull > max) {
      throw new AppImageError(`image supports chip revisions up to ${revisionText(max)}; the chip is ${revisionText(chipRevisionFull)}`);
    }
  }
  const parsed = parseAppImage(data, options);
  if (!parsed.checksumOk) {
    throw new AppImageError(`checksum mismatch: stored ${hex(parsed.checksum.stored, 2)}, computed ${hex(parsed.checksum.computed, 2)}`);
  }
  if (partitionSize !== undefined && parsed.imageLength > partitionSize) {
    throw new AppImageError(`image length ${hex(parsed.imageLength)} does not fit in the partition (${hex(partitionSize)} bytes)`);
  }
  if (parsed.sha256 && !parsed.sha256Ok) {
    throw new AppImageError(`SHA-256 mismatch: stored ${parsed.sha256.stored.toString("hex")}, computed ${parsed.sha256.computed.toString("hex")}`);
  }
  if (requireAppDesc && !parsed.appDesc) {
    const first = parsed.segments[0];
    if (!first) throw new AppImageError("image has no segment, so no esp_app_desc_t");
    decodeAppDescription(first.data); // throws the precise reason (short segment, bad magic)
  }
  return parsed;
}
