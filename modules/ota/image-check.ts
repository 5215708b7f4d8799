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
// appended SHA-256, which the updater looks into only when esp_ota_end has
// refused the image (appendedSha256 says where it is).
//
// Only headers are copied, into one 32-byte buffer; segment data goes to an
// injected checksum function (native on the device), as part data goes to
// the native CRC in the zip reader.

import { UpdateCode, UpdateError } from "ota/update-error";

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
const HASH_SIZE = 32;

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
};

/** The chip id of an image header (esp_image_header_t.chip_id), from its first bytes. */
export function chipIdOf(header: Uint8Array): number {
  return header[CHIP_ID_OFFSET]! | (header[CHIP_ID_OFFSET + 1]! << 8);
}

// Parts of the image, in the order they arrive.
const HEADER = 0;
const SEGMENT_HEADER = 1;
const SEGMENT_DATA = 2;
const PADDING = 3;
const HASH = 4;
const DONE = 5;

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
  readonly #name: string;
  readonly #size: number;
  readonly #chipId: number | undefined;
  readonly #checksumOf: ImageChecksum;
  /** The header, then each segment header, then the appended hash. */
  readonly #buffer = new Uint8Array(HASH_SIZE);
  readonly #fields = new DataView(this.#buffer.buffer);
  #part = HEADER;
  /** Bytes of the current header or hash gathered into #buffer. */
  #fill = 0;
  /** Bytes of the current segment's data or of the padding still to come. */
  #remaining = 0;
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
    this.#name = options.name;
    this.#size = options.size;
    this.#chipId = options.chipId;
    this.#checksumOf = options.checksum;
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
      const taken = this.#step(bytes, at);
      at += taken;
      this.#offset += taken;
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

  #step(bytes: Uint8Array, at: number): number {
    switch (this.#part) {
      case HEADER: {
        const n = this.#gather(bytes, at, IMAGE_HEADER_SIZE);
        // The magic first, as esp_ota_write does: a file that is no image is told so at once.
        if (this.#buffer[0] !== MAGIC) this.#refuse(`is not an ESP32 app image: first byte ${hex(this.#buffer[0]!)}, expected ${hex(MAGIC)}`);
        if (this.#fill === IMAGE_HEADER_SIZE) this.#headerComplete();
        return n;
      }
      case SEGMENT_HEADER: {
        const n = this.#gather(bytes, at, SEGMENT_HEADER_SIZE);
        if (this.#fill === SEGMENT_HEADER_SIZE) this.#segmentHeaderComplete(this.#offset + n);
        return n;
      }
      case SEGMENT_DATA: {
        const n = Math.min(this.#remaining, bytes.length - at);
        this.#checksum = this.#checksumOf(bytes.subarray(at, at + n), this.#checksum);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#nextSegment(this.#offset + n);
        return n;
      }
      case PADDING: {
        const n = Math.min(this.#remaining, bytes.length - at);
        this.#remaining -= n;
        // Zero padding up to a 16-byte boundary; its last byte is the checksum.
        if (this.#remaining === 0) {
          this.#storedChecksum = bytes[at + n - 1]!;
          this.#part = this.#hashAppended ? HASH : DONE;
        }
        return n;
      }
      default: {
        const n = this.#gather(bytes, at, HASH_SIZE);
        if (this.#fill === HASH_SIZE) {
          this.#appended = { length: this.#offset + n - HASH_SIZE, hex: hexBytes(this.#buffer) };
          this.#part = DONE;
        }
        return n;
      }
    }
  }

  /** Copies what the current part still needs of bytes[at..] into #buffer; returns how many bytes. */
  #gather(bytes: Uint8Array, at: number, partSize: number): number {
    const n = Math.min(partSize - this.#fill, bytes.length - at);
    this.#buffer.set(bytes.subarray(at, at + n), this.#fill);
    this.#fill += n;
    return n;
  }

  #headerComplete(): void {
    const header = this.#buffer;
    const chipId = chipIdOf(header);
    if (this.#chipId !== undefined && chipId !== this.#chipId) {
      throw new UpdateError(
        UpdateCode.WRONG_PLATFORM,
        `${this.#name} is built for chip id ${chipId} (${chipName(chipId)}), this board is ${this.#chipId} (${chipName(this.#chipId)})`,
      );
    }
    this.#segments = header[1]!;
    if (this.#segments > MAX_SEGMENTS) this.#refuse(`has ${this.#segments} segments, at most ${MAX_SEGMENTS}`);
    this.#hashAppended = header[HASH_APPENDED_OFFSET] !== 0;
    this.#nextSegment(IMAGE_HEADER_SIZE);
  }

  /** `dataOffset`: where the segment's data starts in the image. */
  #segmentHeaderComplete(dataOffset: number): void {
    const length = this.#fields.getUint32(4, true);
    const which = `segment ${this.#segment}`;
    if (length % 4 !== 0 || length >= MAX_SEGMENT_LENGTH) {
      this.#refuse(`${which} is ${length} bytes; a segment is a multiple of 4 bytes, below 16 MB`);
    }
    if (dataOffset + length > this.#size) {
      this.#refuse(`${which} (${length} bytes at offset ${dataOffset}) runs past the end of the file (${this.#size} bytes)`);
    }
    this.#segment++;
    this.#part = SEGMENT_DATA;
    this.#remaining = length;
    if (length === 0) this.#nextSegment(dataOffset);
  }

  /** `offset`: where the next segment header, or the padding, starts. */
  #nextSegment(offset: number): void {
    this.#fill = 0;
    if (this.#segment < this.#segments) {
      this.#part = SEGMENT_HEADER;
      return;
    }
    this.#part = PADDING;
    this.#remaining = ((offset + 1 + 15) & ~15) - offset;
    const end = offset + this.#remaining + (this.#hashAppended ? HASH_SIZE : 0);
    if (end > this.#size) {
      this.#refuse(`ends at ${this.#size} bytes, before its checksum${this.#hashAppended ? " and SHA-256" : ""} (the image needs ${end})`);
    }
  }

  #refuse(what: string): never {
    throw new UpdateError(UpdateCode.INVALID_IMAGE, `${this.#name} ${what}`);
  }
}

function chipName(id: number): string {
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
