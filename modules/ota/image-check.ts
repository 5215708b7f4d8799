// The app image's own checks (spec/esp-idf.md §5), made on the bytes as they
// are written, so that a refused image says what is wrong with it: ESP-IDF
// checks the same things (esp_ota_write the first byte, esp_ota_end all of it)
// but reports every fault as ESP_ERR_OTA_VALIDATE_FAILED.
//
// It checks no more than esp_image_verify does, so a valid image always
// passes: magic, chip id, segment count, each segment's length, that the
// segments, the checksum and the SHA-256 lie within the file (which fits the
// slot: the updater refuses a larger one first), and the checksum, compared
// once the whole file is in. It leaves to esp_ota_end the chip revision and
// where flash-mapped segments load (both depend on the chip), and the
// appended SHA-256 (appendedSha256 says where it is: the updater looks into
// it when esp_ota_end has refused the image, and relies on esp_ota_end's
// read-back check of it when it covers the whole file).
//
// Only headers are copied, into one 32-byte buffer; segment data goes to an
// injected checksum function (native on the device), as part data goes to
// the native CRC in the zip reader.

import type { SlotsPort } from "platform/ports";
import { UpdateCode, UpdateError } from "ota/update-error";
import { view } from "sys/bytes";

/** ESP-IDF's image checksum continued over `bytes`: `seed` xor every byte (the folded form of its word-wise xor). */
export interface ImageChecksum {
  (bytes: Uint8Array, seed: number): number;
}

/** Where the appended SHA-256 is: it covers the image's first `length` bytes and is stored right after them. */
export interface AppendedSha256 {
  readonly length: number;
  /** Lower-case hex. */
  readonly hex: string;
}

export const IMAGE_HEADER_SIZE = 24;
const MAGIC = 0xe9;
const CHIP_ID_OFFSET = 12;
const HASH_APPENDED_OFFSET = 23;
const MAX_SEGMENTS = 16;
const SEGMENT_HEADER_SIZE = 8;
/** A segment's data_len stays below this (ESP_IMAGE_MAX_FLASH_ADDR_SIZE). */
const MAX_SEGMENT_LENGTH = 0x1000000;
const CHECKSUM_SEED = 0xef;
export const HASH_SIZE = 32;

/** esp_chip_id_t, for messages. */
const CHIP_NAMES: Readonly<Record<number, string>> = {
  0x00: "ESP32",
  0x02: "ESP32-S2",
  0x05: "ESP32-C3",
  0x09: "ESP32-S3",
  0x0c: "ESP32-C2",
  0x0d: "ESP32-C6",
  0x10: "ESP32-H2",
  0x12: "ESP32-P4",
  0x14: "ESP32-C61",
  0x17: "ESP32-C5",
  0x19: "ESP32-H21",
  0x1c: "ESP32-H4",
  /** The virtual board's own id (host/fwpack/image-header.ts ChipId.VIRTUAL_BOARD): no real bootloader starts its images. */
  0x4256: "virtual board",
};

/** The chip id of an image header (esp_image_header_t.chip_id), from its first bytes. */
export function chipIdOf(header: Uint8Array): number {
  return header[CHIP_ID_OFFSET]! | (header[CHIP_ID_OFFSET + 1]! << 8);
}

/**
 * The board's chip id: the one in the running image's header. The bootloader
 * checked it against this chip before starting the image, and esp_ota_end
 * checks new images against the same value (the build's
 * CONFIG_IDF_FIRMWARE_CHIP_ID): an ESP32's, or the virtual board's own.
 * Unknown when the board runs from no app slot (a factory partition).
 */
export function runningChipId(slots: Pick<SlotsPort, "running" | "read">): number | undefined {
  const running = slots.running();
  return running < 0 ? undefined : chipIdOf(new Uint8Array(slots.read(running, 0, IMAGE_HEADER_SIZE)));
}

// Parts of the image, in the order they arrive.
const HEADER = 0;
const SEGMENT_HEADER = 1;
const SEGMENT_DATA = 2;
const PADDING = 3;
const HASH = 4;
const DONE = 5;
/** Sizes of the parts gathered into the check's buffer, by part (0: not gathered). */
const GATHERED = [IMAGE_HEADER_SIZE, SEGMENT_HEADER_SIZE, 0, 0, HASH_SIZE];

export interface AppImageCheckOptions {
  /** The part's file name, which messages start with (xs-ota.bin). */
  readonly name: string;
  /** Bytes the file holds: the image must end within them. */
  readonly size: number;
  /** The chip id this board runs (undefined: not checked). */
  readonly chipId: number | undefined;
  readonly checksum: ImageChecksum;
}

export class AppImageCheck {
  readonly #options: AppImageCheckOptions;
  /** The header, then each segment header, then the appended SHA-256. */
  readonly #buffer = new Uint8Array(HASH_SIZE);
  #part = HEADER;
  /** Bytes of the current part still to come. */
  #need = IMAGE_HEADER_SIZE;
  /** Image offset of the next byte. */
  #offset = 0;
  #segments = 0;
  /** Segment headers read: the index of the next one, as ESP-IDF's log numbers them (from 0). */
  #segment = 0;
  #hashAppended = false;
  #checksum = CHECKSUM_SEED;
  /** The image's checksum byte, once the padding's last byte has arrived (it has by the file's end). */
  #storedChecksum = CHECKSUM_SEED;
  #appended: AppendedSha256 | undefined;

  /** Throws when the file cannot even hold an image header. */
  constructor(options: AppImageCheckOptions) {
    this.#options = options;
    if (options.size < IMAGE_HEADER_SIZE) {
      this.#refuse(`is ${options.size} bytes, shorter than an app image header (${IMAGE_HEADER_SIZE})`);
    }
  }

  /** The appended SHA-256 once it has arrived; undefined before and for an image without one. */
  get appendedSha256(): AppendedSha256 | undefined {
    return this.#appended;
  }

  /** The next bytes of the file, split anywhere; throws an UpdateError that says what is wrong. */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length && this.#part !== DONE) {
      const n = Math.min(this.#need, bytes.length - at);
      const piece = view(bytes, at, at + n);
      if (this.#part === SEGMENT_DATA) this.#checksum = this.#options.checksum(piece, this.#checksum);
      else if (this.#part !== PADDING) this.#buffer.set(piece, GATHERED[this.#part]! - this.#need);
      // The magic first, as esp_ota_write does: a file that is no image is told so at once.
      if (this.#part === HEADER && this.#buffer[0] !== MAGIC) this.#refuse(`is not an ESP32 app image: first byte ${hex(this.#buffer[0]!)}, expected ${hex(MAGIC)}`);
      at += n;
      this.#offset += n;
      this.#need -= n;
      if (this.#need === 0) this.#partComplete(bytes[at - 1]!);
    }
  }

  /**
   * The whole file has arrived: the checksum is compared now, after the zip
   * reader has checked the file's CRC, so that a package damaged on its way
   * is reported as that (Invalid CRC), and only an image built wrong as this.
   */
  end(): void {
    if (this.#storedChecksum !== this.#checksum) {
      this.#refuse(`checksum ${hex(this.#storedChecksum)}, computed ${hex(this.#checksum)}`);
    }
  }

  /** `last`: the part's last byte. */
  #partComplete(last: number): void {
    const buffer = this.#buffer;
    switch (this.#part) {
      case HEADER: {
        const { name, chipId } = this.#options;
        const found = chipIdOf(buffer);
        if (chipId !== undefined && found !== chipId) {
          throw new UpdateError(UpdateCode.WRONG_PLATFORM, `${name} is built for chip id ${found} (${chipName(found)}), this board is ${chipId} (${chipName(chipId)})`);
        }
        this.#segments = buffer[1]!;
        if (this.#segments > MAX_SEGMENTS) this.#refuse(`has ${this.#segments} segments, at most ${MAX_SEGMENTS}`);
        this.#hashAppended = buffer[HASH_APPENDED_OFFSET] !== 0;
        this.#nextSegment();
        return;
      }
      case SEGMENT_HEADER: {
        const length = new DataView(buffer.buffer).getUint32(4, true);
        const which = `segment ${this.#segment}`;
        if (length % 4 !== 0 || length >= MAX_SEGMENT_LENGTH) {
          this.#refuse(`${which} is ${length} bytes; a segment is a multiple of 4 bytes, below 16 MB`);
        }
        if (this.#offset + length > this.#options.size) {
          this.#refuse(`${which} (${length} bytes at offset ${this.#offset}) runs past the end of the file (${this.#options.size} bytes)`);
        }
        this.#segment++;
        this.#part = SEGMENT_DATA;
        this.#need = length;
        if (length === 0) this.#nextSegment();
        return;
      }
      case SEGMENT_DATA:
        this.#nextSegment();
        return;
      case PADDING:
        // Zero padding up to a 16-byte boundary; its last byte is the checksum.
        this.#storedChecksum = last;
        this.#part = this.#hashAppended ? HASH : DONE;
        this.#need = HASH_SIZE;
        return;
      default:
        this.#appended = { length: this.#offset - HASH_SIZE, hex: hexBytes(buffer) };
        this.#part = DONE;
    }
  }

  /** The next segment's header, or after the last segment the padding. */
  #nextSegment(): void {
    if (this.#segment < this.#segments) {
      this.#part = SEGMENT_HEADER;
      this.#need = SEGMENT_HEADER_SIZE;
      return;
    }
    const offset = this.#offset;
    this.#part = PADDING;
    this.#need = ((offset + 1 + 15) & ~15) - offset;
    const end = offset + this.#need + (this.#hashAppended ? HASH_SIZE : 0);
    if (end > this.#options.size) {
      this.#refuse(`ends at ${this.#options.size} bytes, before its checksum${this.#hashAppended ? " and SHA-256" : ""} (the image needs ${end})`);
    }
  }

  #refuse(what: string): never {
    throw new UpdateError(UpdateCode.INVALID_IMAGE, `${this.#options.name} ${what}`);
  }
}

/** A chip id's name for messages ("ESP32-S3", "virtual board"). */
export function chipName(id: number): string {
  return CHIP_NAMES[id] ?? "unknown chip";
}

/** A byte as 0xE9. */
function hex(byte: number): string {
  return `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

function hexBytes(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += bytes[i]!.toString(16).padStart(2, "0");
  return text;
}
