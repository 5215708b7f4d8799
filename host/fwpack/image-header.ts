// esp_image_header_t: the 24 packed bytes that start every ESP-IDF app image.

import { AppImageError, hex } from "./errors.js";

export const IMAGE_MAGIC = 0xe9;
export const IMAGE_HEADER_SIZE = 24;
export const IMAGE_MAX_SEGMENTS = 16;

export const ChipId = {
  ESP32: 0x0000,
  ESP32S2: 0x0002,
  ESP32C3: 0x0005,
  ESP32S3: 0x0009,
  ESP32C2: 0x000c,
  ESP32C6: 0x000d,
  ESP32H2: 0x0010,
  /**
   * The virtual board: no esp_chip_id_t value (those are small numbers, 0x1C
   * the highest in IDF v5.5.1), nor ESP_CHIP_ID_INVALID (0xFFFF, what erased
   * flash reads as). Its bytes at header offset 12 spell "VB". A real
   * bootloader refuses the image before running anything of it:
   * "boot_comm: mismatch chip ID, expected 0, found 16982".
   */
  VIRTUAL_BOARD: 0x4256,
} as const;

/** Chips whose images the host tools recognise (verifyAppImage checks an image against its own chip id only for these). */
export const KNOWN_CHIP_IDS: ReadonlySet<number> = new Set(Object.values(ChipId));

export const SpiMode = { QIO: 0, QOUT: 1, DIO: 2, DOUT: 3, FAST_READ: 4, SLOW_READ: 5 } as const;
/** Low nibble of byte 3, ESP32 encoding. */
export const SpiSpeed = { MHZ_40: 0x0, MHZ_26: 0x1, MHZ_20: 0x2, MHZ_80: 0xf } as const;
/** High nibble of byte 3. */
export const SpiSize = { MB_1: 0, MB_2: 1, MB_4: 2, MB_8: 3, MB_16: 4, MB_32: 5, MB_64: 6, MB_128: 7 } as const;

/** Byte offsets inside the header, for tests and for the C side to agree on. */
export const IMAGE_HEADER_OFFSETS = {
  magic: 0,
  segmentCount: 1,
  spiMode: 2,
  spiSpeedAndSize: 3,
  entryAddr: 4,
  wpPin: 8,
  spiPinDrv: 9,
  chipId: 12,
  minChipRev: 14,
  minChipRevFull: 15,
  maxChipRevFull: 17,
  reserved: 19,
  hashAppended: 23,
} as const;

export interface ImageHeader {
  segmentCount: number;
  spiMode: number;
  spiSpeed: number;
  spiSize: number;
  entryAddr: number;
  wpPin: number;
  spiPinDrv: [number, number, number];
  chipId: number;
  /** Legacy major revision byte. */
  minChipRev: number;
  /** major * 100 + minor. */
  minChipRevFull: number;
  /** major * 100 + minor; 0 or 0xFFFF means no maximum. */
  maxChipRevFull: number;
  hashAppended: boolean;
}

/**
 * What IDF v5.x writes for an ESP32 app with default sdkconfig and a 4 MB
 * DIO flash at 40 MHz: no minimum revision, maximum v3.99
 * (CONFIG_ESP32_REV_MAX_FULL = 399), SHA-256 appended. The entry address is
 * the start of IRAM; the virtual board runs no Xtensa code, so nothing jumps
 * there.
 */
export const ESP32_DEFAULT_HEADER: Omit<ImageHeader, "segmentCount"> = {
  spiMode: SpiMode.DIO,
  spiSpeed: SpiSpeed.MHZ_40,
  spiSize: SpiSize.MB_4,
  entryAddr: 0x40080000,
  wpPin: 0xee,
  spiPinDrv: [0, 0, 0],
  chipId: ChipId.ESP32,
  minChipRev: 0,
  minChipRevFull: 0,
  maxChipRevFull: 399,
  hashAppended: true,
};

function check(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new AppImageError(`image header: ${field} ${value} is not in 0..${hex(max)}`);
  }
}

export function encodeImageHeader(h: ImageHeader): Buffer {
  check(h.segmentCount, IMAGE_MAX_SEGMENTS, "segment count");
  check(h.spiMode, 0xff, "spi_mode");
  check(h.spiSpeed, 0xf, "spi_speed");
  check(h.spiSize, 0xf, "spi_size");
  check(h.entryAddr, 0xffffffff, "entry_addr");
  check(h.wpPin, 0xff, "wp_pin");
  h.spiPinDrv.forEach((v, i) => check(v, 0xff, `spi_pin_drv[${i}]`));
  check(h.chipId, 0xffff, "chip_id");
  check(h.minChipRev, 0xff, "min_chip_rev");
  check(h.minChipRevFull, 0xffff, "min_chip_rev_full");
  check(h.maxChipRevFull, 0xffff, "max_chip_rev_full");
  const o = IMAGE_HEADER_OFFSETS;
  const out = Buffer.alloc(IMAGE_HEADER_SIZE);
  out[o.magic] = IMAGE_MAGIC;
  out[o.segmentCount] = h.segmentCount;
  out[o.spiMode] = h.spiMode;
  out[o.spiSpeedAndSize] = (h.spiSize << 4) | h.spiSpeed;
  out.writeUInt32LE(h.entryAddr, o.entryAddr);
  out[o.wpPin] = h.wpPin;
  out.set(h.spiPinDrv, o.spiPinDrv);
  out.writeUInt16LE(h.chipId, o.chipId);
  out[o.minChipRev] = h.minChipRev;
  out.writeUInt16LE(h.minChipRevFull, o.minChipRevFull);
  out.writeUInt16LE(h.maxChipRevFull, o.maxChipRevFull);
  out[o.hashAppended] = h.hashAppended ? 1 : 0;
  return out;
}

/** Checks what verify_image_header() checks before the chip: magic and segment count. */
export function decodeImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < IMAGE_HEADER_SIZE) {
    throw new AppImageError(`image truncated: ${bytes.length} bytes, the header needs ${IMAGE_HEADER_SIZE}`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, IMAGE_HEADER_SIZE);
  const o = IMAGE_HEADER_OFFSETS;
  if (b[o.magic] !== IMAGE_MAGIC) {
    throw new AppImageError(`bad image magic ${hex(b[o.magic]!, 2)} (expected ${hex(IMAGE_MAGIC, 2)}); nothing flashed here?`);
  }
  const segmentCount = b[o.segmentCount]!;
  if (segmentCount > IMAGE_MAX_SEGMENTS) {
    throw new AppImageError(`segment count ${segmentCount} exceeds the maximum of ${IMAGE_MAX_SEGMENTS}`);
  }
  return {
    segmentCount,
    spiMode: b[o.spiMode]!,
    spiSpeed: b[o.spiSpeedAndSize]! & 0x0f,
    spiSize: b[o.spiSpeedAndSize]! >> 4,
    entryAddr: b.readUInt32LE(o.entryAddr),
    wpPin: b[o.wpPin]!,
    spiPinDrv: [b[o.spiPinDrv]!, b[o.spiPinDrv + 1]!, b[o.spiPinDrv + 2]!],
    chipId: b.readUInt16LE(o.chipId),
    minChipRev: b[o.minChipRev]!,
    minChipRevFull: b.readUInt16LE(o.minChipRevFull),
    maxChipRevFull: b.readUInt16LE(o.maxChipRevFull),
    hashAppended: b[o.hashAppended] !== 0,
  };
}
