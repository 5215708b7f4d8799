// fw.zip read the way Mongoose OS reads it during an update (spec/mos-rpc.md
// §3.3): one pass over the bytes as they arrive, local headers only, no
// seeking and no central directory. mos writes every entry STORED with CRC and
// sizes in the local header precisely so that a device can do this; archives
// that need more (compression, data descriptors) are refused, not guessed at.
//
// Memory stays constant in the image size: entry data is handed on as views of
// the pushed chunks, and its CRC-32 comes from an injected function (native on
// the device), so no JS loop touches part data. Only headers, names and the
// manifest (at most 16 KB) are copied.

import { UpdateCode, UpdateError } from "ota/update-error";
import { view } from "sys/bytes";
import { decodeUtf8 } from "sys/utf8";

/** zlib's crc32(seed, bytes): `seed` is the CRC of the bytes before, 0 at the start. */
export interface Crc32 {
  (bytes: Uint8Array, seed: number): number;
}

/** mos keeps manifests to a few KB; anything bigger is not a firmware package. */
export const MAX_MANIFEST_SIZE = 16 * 1024;
/** Room for the manifest's extra field, which carries the package signatures (id 0x293a). */
const MAX_MANIFEST_EXTRA = 4 * 1024;
/** Whole archive path, directory included; bounds the one name buffer. */
const MAX_PATH = 255;
/** Mongoose OS's limit on the name without its directory: shorter than 50 bytes. */
const MAX_NAME = 50;
const MANIFEST_NAME = "manifest.json";

const LOCAL_HEADER_SIG = 0x04034b50;
const CENTRAL_DIR_SIG = 0x02014b50;
const END_OF_CENTRAL_DIR_SIG = 0x06054b50;
const LOCAL_HEADER_SIZE = 30;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const METHOD_STORED = 0;
const ZIP64_SIZE = 0xffffffff;

export interface ZipEntry {
  /** Name with the leading `<name>-<version>/` directory removed: what `parts.*.src` names. */
  readonly name: string;
  /** Name as stored in the archive. */
  readonly path: string;
  /** Data size in bytes (stored, so compressed and uncompressed sizes agree). */
  readonly size: number;
  /** CRC-32 from the local header. */
  readonly crc32: number;
  /** Stream offset of the entry's local header. */
  readonly offset: number;
}

export type EntryAction = "process" | "skip";

/**
 * Where the reader delivers the archive. A callback may throw (an UpdateError
 * ideally); the reader then fails with that error.
 */
export interface ZipSink {
  /**
   * The first entry, manifest.json, whole and CRC-checked. `bytes` is the
   * sink's to keep. `extra` is the entry's extra field (signatures live there).
   */
  onManifest(bytes: Uint8Array, entry: ZipEntry, extra: Uint8Array): void;
  /** Each later entry: "process" to receive its data, "skip" to have it consumed unseen. */
  onEntry(entry: ZipEntry): EntryAction;
  /**
   * Data of a processed entry, in order, in pieces of any size. `bytes` is a
   * view of the pushed chunk, valid only during the call: write it, do not keep it.
   */
  onData(bytes: Uint8Array, entry: ZipEntry): void;
  /** A processed entry ended and its CRC matched (a mismatch fails the reader instead). */
  onEntryEnd(entry: ZipEntry): void;
  /** The central directory began: every entry has been delivered. */
  onEnd(): void;
}

// Reader states, in the order an entry passes through them.
const HEADER = 0;
const NAME = 1;
const EXTRA = 2;
const DATA = 3;
const DONE = 4;

type Handling = EntryAction | "manifest";

export class ZipStreamReader {
  readonly #sink: ZipSink;
  readonly #crc32: Crc32;
  readonly #header = new Uint8Array(LOCAL_HEADER_SIZE);
  readonly #path = new Uint8Array(MAX_PATH);
  #state = HEADER;
  /** Bytes gathered into #header or #path, or copied into #extra / #manifest. */
  #fill = 0;
  /** Bytes of the current field (name, extra or data) still to come. */
  #remaining = 0;
  #consumed = 0;
  #entries = 0;
  #entryOffset = 0;
  #entry: ZipEntry | undefined;
  #handling: Handling = "skip";
  #crc = 0;
  #extra: Uint8Array | undefined;
  #manifest: Uint8Array | undefined;
  #error: UpdateError | undefined;

  constructor(sink: ZipSink, crc32: Crc32) {
    this.#sink = sink;
    this.#crc32 = crc32;
  }

  /** Bytes pushed and accepted so far (for progress); bytes after the central directory count too. */
  get bytesConsumed(): number {
    return this.#consumed;
  }

  /** The central directory was reached: the archive is whole. Ending the stream before that is an error (-14). */
  get isComplete(): boolean {
    return this.#state === DONE && !this.#error;
  }

  /** Why the reader failed, or undefined while it has not. */
  get error(): UpdateError | undefined {
    return this.#error;
  }

  /**
   * Feed the next bytes of the archive, split anywhere. Throws an UpdateError
   * when the archive is refused; from then on every push throws the same error.
   */
  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    try {
      let at = 0;
      while (at < chunk.length) {
        const taken = this.#step(chunk, at);
        at += taken;
        this.#consumed += taken;
      }
    } catch (e) {
      this.#error = UpdateError.from(e);
      this.#manifest = this.#extra = undefined;
      throw this.#error;
    }
  }

  /** Consumes what the current state can take from chunk[at..]; returns how many bytes. */
  #step(chunk: Uint8Array, at: number): number {
    const available = chunk.length - at;
    switch (this.#state) {
      case HEADER: {
        const n = Math.min(LOCAL_HEADER_SIZE - this.#fill, available);
        this.#header.set(chunk.subarray(at, at + n), this.#fill);
        this.#fill += n;
        // The signature alone tells a header from the central directory, whose records are longer.
        if (this.#fill >= 4 && this.#checkSignature()) return n;
        if (this.#fill === LOCAL_HEADER_SIZE) this.#beginEntry();
        return n;
      }
      case NAME: {
        const n = Math.min(this.#remaining, available);
        this.#path.set(chunk.subarray(at, at + n), this.#fill);
        this.#fill += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#nameComplete();
        return n;
      }
      case EXTRA: {
        const n = Math.min(this.#remaining, available);
        if (this.#extra) this.#extra.set(chunk.subarray(at, at + n), this.#fill);
        this.#fill += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#openEntry();
        return n;
      }
      case DATA: {
        const n = Math.min(this.#remaining, available);
        const bytes = view(chunk, at, at + n);
        this.#remaining -= n;
        if (this.#handling !== "skip") {
          // Skipped entries are not checked: nothing is done with their bytes.
          this.#crc = this.#crc32(bytes, this.#crc);
          if (this.#handling === "manifest") {
            this.#manifest!.set(bytes, this.#fill);
            this.#fill += n;
          } else {
            this.#sink.onData(bytes, this.#entry!);
          }
        }
        if (this.#remaining === 0) this.#closeEntry();
        return n;
      }
      default:
        // After the central directory: its records and the end record, not needed.
        return available;
    }
  }

  /** True when the signature ends the entries; throws when it is no local header. */
  #checkSignature(): boolean {
    const signature = u32(this.#header, 0);
    if (signature === LOCAL_HEADER_SIG) return false;
    if (signature === CENTRAL_DIR_SIG && this.#entries > 0) {
      this.#state = DONE;
      this.#sink.onEnd();
      return true;
    }
    if (this.#entries === 0 && (signature === CENTRAL_DIR_SIG || signature === END_OF_CENTRAL_DIR_SIG)) {
      throw new UpdateError(UpdateCode.MANIFEST_NOT_FIRST, "the archive has no files");
    }
    throw new UpdateError(
      UpdateCode.INVALID_FILE_HEADER,
      `signature 0x${signature.toString(16).padStart(8, "0")} at offset ${this.#entryOffset}`,
    );
  }

  #beginEntry(): void {
    const h = this.#header;
    const flags = u16(h, 6);
    const method = u16(h, 8);
    const compressedSize = u32(h, 18);
    const size = u32(h, 22);
    const pathLength = u16(h, 26);
    if (method !== METHOD_STORED) throw new UpdateError(UpdateCode.COMPRESSED, `method ${method}`);
    if (flags & FLAG_DATA_DESCRIPTOR) {
      // Go's stock zip writer streams CRC and sizes after the data; the header alone
      // cannot tell where the data ends. mos create-fw-bundle writes them up front.
      throw new UpdateError(UpdateCode.DATA_DESCRIPTOR, "CRC and sizes must be in the local header (build the package with mos)");
    }
    if (compressedSize !== size) {
      throw new UpdateError(UpdateCode.SIZE_MISMATCH, `stored entry of ${compressedSize} bytes claims ${size}`);
    }
    if (size === ZIP64_SIZE) throw new UpdateError(UpdateCode.SIZE_MISMATCH, "ZIP64 entries are not supported");
    if (pathLength > MAX_PATH) throw new UpdateError(UpdateCode.NAME_TOO_LONG, `${pathLength} bytes`);
    this.#state = NAME;
    this.#fill = 0;
    this.#remaining = pathLength;
    if (pathLength === 0) this.#nameComplete();
  }

  #nameComplete(): void {
    const h = this.#header;
    const pathBytes = this.#path.subarray(0, u16(h, 26));
    // '/' never occurs inside a multi-byte UTF-8 sequence, so bytes can be cut at it.
    const nameBytes = pathBytes.subarray(pathBytes.indexOf(0x2f) + 1);
    const path = decodeUtf8(pathBytes);
    const name = decodeUtf8(nameBytes);
    if (nameBytes.length >= MAX_NAME) throw new UpdateError(UpdateCode.NAME_TOO_LONG, path);
    const size = u32(h, 22);
    const extraLength = u16(h, 28);
    const first = this.#entries === 0;
    if (first) {
      if (name !== MANIFEST_NAME) throw new UpdateError(UpdateCode.MANIFEST_NOT_FIRST, `found ${path}`);
      if (size > MAX_MANIFEST_SIZE) {
        throw new UpdateError(UpdateCode.MANIFEST_TOO_BIG, `${size} bytes, at most ${MAX_MANIFEST_SIZE}`);
      }
      if (extraLength > MAX_MANIFEST_EXTRA) {
        throw new UpdateError(UpdateCode.MANIFEST_TOO_BIG, `extra field of ${extraLength} bytes, at most ${MAX_MANIFEST_EXTRA}`);
      }
      this.#extra = new Uint8Array(extraLength);
    }
    this.#entry = { name, path, size, crc32: u32(h, 14), offset: this.#entryOffset };
    this.#entries++;
    this.#state = EXTRA;
    this.#fill = 0;
    this.#remaining = extraLength;
    if (extraLength === 0) this.#openEntry();
  }

  #openEntry(): void {
    const entry = this.#entry!;
    if (this.#extra) {
      this.#handling = "manifest";
      this.#manifest = new Uint8Array(entry.size);
    } else {
      this.#handling = this.#sink.onEntry(entry) === "process" ? "process" : "skip";
    }
    this.#state = DATA;
    this.#fill = 0;
    this.#crc = 0;
    this.#remaining = entry.size;
    if (entry.size === 0) this.#closeEntry();
  }

  #closeEntry(): void {
    const entry = this.#entry!;
    if (this.#handling !== "skip" && this.#crc !== entry.crc32) {
      throw new UpdateError(
        UpdateCode.INVALID_CRC,
        `${entry.path}: computed ${hex32(this.#crc)}, header says ${hex32(entry.crc32)}`,
      );
    }
    this.#state = HEADER;
    this.#fill = 0;
    this.#entryOffset = this.#consumedAfterEntry(entry);
    if (this.#handling === "manifest") {
      const manifest = this.#manifest!;
      const extra = this.#extra!;
      this.#manifest = this.#extra = undefined;
      this.#sink.onManifest(manifest, entry, extra);
    } else if (this.#handling === "process") {
      this.#sink.onEntryEnd(entry);
    }
  }

  /** Stream offset just past the entry: where the next header starts. */
  #consumedAfterEntry(entry: ZipEntry): number {
    const h = this.#header;
    return entry.offset + LOCAL_HEADER_SIZE + u16(h, 26) + u16(h, 28) + entry.size;
  }
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
