// The device side of mgrpc over a UART (spec/mos-rpc.md §2.2): one JSON frame
// per line with an optional 8-hex CRC32 after it, or the legacy `"""`
// delimiter that mos still sends. The peer's habits are sticky: once it used
// `"""` or a valid CRC, every reply carries them too.
//
// Bytes are cut into frames in one fixed buffer as they arrive: a line over
// the limit is discarded up to its delimiter (its tail is never read as a
// frame of its own), and nothing is allocated per byte, so a flood of
// delimiters or a megabyte with no newline costs no heap.

import { crc32, crc32OfString, crcHex } from "rpc/crc32";
import { asciiJson, decodeUtf8Strict } from "sys/utf8";
import { MAX_FRAME_SIZE } from "rpc/frame";

export type UartEvent =
  /** A frame to dispatch (the JSON text, metadata removed). */
  | { readonly kind: "frame"; readonly json: string }
  /** Bytes the channel answers by itself: "\n" to an empty frame, `"""\x04"""` to the handshake. */
  | { readonly kind: "reply"; readonly text: string }
  /** Input thrown away, with the reason (worth a log line). */
  | { readonly kind: "dropped"; readonly reason: string };

const DELIM_COMPAT = '"""';
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const EOF_BYTE = 0x04;
/** Room on a line beyond the JSON: the CRC and mos's further metadata fields. */
const METADATA_ROOM = 64;
const CRC_DIGITS = /^[0-9a-fA-F]{8}$/;
/** fromCharCode.apply spreads its arguments on the XS stack; keep the spread small. */
const DECODE_STEP = 256;

export class UartFraming {
  /** Longest JSON text of a frame, in bytes. */
  readonly maxFrameSize: number;
  readonly #line: Uint8Array;
  #length = 0;
  /** Quotes at the end of what was read: three are a `"""` delimiter. */
  #quotes = 0;
  /** The line outgrew the buffer: skip to its delimiter. */
  #skipping = false;
  #compat = false;
  #crc = false;

  constructor(maxFrameSize = MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
    this.#line = new Uint8Array(maxFrameSize + METADATA_ROOM);
  }

  /** The peer used `"""` at least once: replies are wrapped in it. */
  get compatMode(): boolean {
    return this.#compat;
  }

  /** The peer sent a valid CRC at least once: replies carry one. */
  get crcMode(): boolean {
    return this.#crc;
  }

  /**
   * Feed received bytes; `emit` gets what they completed, in order, as each
   * completes: a flood of tiny frames is never held as a list.
   */
  receive(bytes: Uint8Array, emit: (event: UartEvent) => void): void {
    let i = 0;
    while (i < bytes.length) {
      const stop = nextDelimiterByte(bytes, i);
      if (stop > i) {
        this.#append(bytes.subarray(i, stop), emit);
        this.#quotes = 0;
      }
      if (stop === bytes.length) break;
      i = stop + 1;
      if (bytes[stop] === NEWLINE) {
        this.#quotes = 0;
        this.#endLine(emit);
      } else if (++this.#quotes === DELIM_COMPAT.length) {
        this.#quotes = 0;
        this.#compat = true;
        if (!this.#skipping) this.#length -= DELIM_COMPAT.length - 1;
        this.#endLine(emit);
      } else {
        this.#append(bytes.subarray(stop, i), emit);
      }
    }
  }

  #append(part: Uint8Array, emit: (event: UartEvent) => void): void {
    if (this.#skipping) return;
    if (this.#length + part.length > this.#line.length) {
      this.#skipping = true;
      emit({ kind: "dropped", reason: `incoming frame is too big: more than ${this.maxFrameSize} bytes` });
      return;
    }
    this.#line.set(part, this.#length);
    this.#length += part.length;
  }

  #endLine(emit: (event: UartEvent) => void): void {
    const line = this.#line.subarray(0, this.#length);
    const skipped = this.#skipping;
    this.#length = 0;
    this.#skipping = false;
    if (skipped) return;
    const event = this.#classify(line);
    if (event) emit(event);
  }

  #classify(line: Uint8Array): UartEvent | undefined {
    if (line.every(isSpace)) return EMPTY_FRAME;
    if (line.length === 1 && line[0] === EOF_BYTE) return HANDSHAKE_ECHO;
    const start = line.indexOf(0x7b); // {
    const last = line.lastIndexOf(0x7d); // }
    // Console input or noise, not a frame: nothing to answer.
    if (start < 0 || last < start) return undefined;
    const json = line.subarray(start, last + 1);
    if (json.length > this.maxFrameSize) return { kind: "dropped", reason: `incoming frame is too big: more than ${this.maxFrameSize} bytes` };
    const meta = line.subarray(last + 1);
    if (meta.length >= 8) {
      // mos sums the frame's bytes as sent: UTF-8, not characters.
      const digits = ascii(meta.subarray(0, 8));
      if (!CRC_DIGITS.test(digits) || parseInt(digits, 16) !== crc32(json)) {
        return { kind: "dropped", reason: `corrupted frame: CRC ${digits.replace(/[^\x20-\x7e]/g, "?")} does not match` };
      }
      this.#crc = true;
    }
    const text = decodeUtf8Strict(json);
    if (text === undefined) return { kind: "dropped", reason: "frame is not valid UTF-8 (line noise or a wrong baud rate?)" };
    return { kind: "frame", json: text };
  }

  /** A frame as the peer expects it: `\n` [`"""`] json [crc] [`"""`] `\n`. */
  encode(json: string): string {
    json = asciiJson(json);
    const delim = this.#compat ? DELIM_COMPAT : "";
    const crc = this.#crc ? crcHex(crc32OfString(json)) : "";
    return `\n${delim}${json}${crc}${delim}\n`;
  }
}

/** The two answers the framing gives by itself, made once. */
const EMPTY_FRAME: UartEvent = { kind: "reply", text: "\n" };
const HANDSHAKE_ECHO: UartEvent = { kind: "reply", text: DELIM_COMPAT + String.fromCharCode(EOF_BYTE) + DELIM_COMPAT };

/** Index of the next newline or quote at or after `from`, or bytes.length. */
function nextDelimiterByte(bytes: Uint8Array, from: number): number {
  const newline = bytes.indexOf(NEWLINE, from);
  const quote = bytes.indexOf(QUOTE, from);
  if (newline < 0) return quote < 0 ? bytes.length : quote;
  return quote < 0 || newline < quote ? newline : quote;
}

/** Whitespace as String.prototype.trim sees it, within ASCII. */
function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

function ascii(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += DECODE_STEP) s += String.fromCharCode.apply(null, bytes.subarray(i, i + DECODE_STEP) as unknown as number[]);
  return s;
}
