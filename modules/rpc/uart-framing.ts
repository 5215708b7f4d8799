// The device side of mgrpc over a UART (spec/mos-rpc.md §2.2): one JSON frame
// per line with an optional 8-hex CRC32 after it, or the legacy `"""`
// delimiter that mos still sends. The peer's habits are sticky: once it used
// `"""` or a valid CRC, every reply carries them too.

import { crc32OfString, crcHex } from "rpc/crc32";

export type UartEvent =
  /** A frame to dispatch (the JSON text, metadata removed). */
  | { readonly kind: "frame"; readonly json: string }
  /** Bytes the channel answers by itself: "\n" to an empty frame, `"""\x04"""` to the handshake. */
  | { readonly kind: "reply"; readonly text: string }
  /** Input thrown away, with the reason (worth a log line). */
  | { readonly kind: "dropped"; readonly reason: string };

const DELIM_COMPAT = '"""';
const EOF_CHAR = "\x04";
/** fromCharCode.apply spreads its arguments on the XS stack; keep the spread small. */
const DECODE_STEP = 256;

export class UartFraming {
  readonly maxFrameSize: number;
  #buffer = "";
  #compat = false;
  #crc = false;

  constructor(maxFrameSize = 4096) {
    this.maxFrameSize = maxFrameSize;
  }

  /** The peer used `"""` at least once: replies are wrapped in it. */
  get compatMode(): boolean {
    return this.#compat;
  }

  /** The peer sent a valid CRC at least once: replies carry one. */
  get crcMode(): boolean {
    return this.#crc;
  }

  /** Feed received bytes; returns what they completed, in order. */
  receive(bytes: Uint8Array): UartEvent[] {
    const events: UartEvent[] = [];
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        // JSON frames are ASCII; a high byte means line noise or a wrong baud rate.
        this.#buffer = "";
        events.push({ kind: "dropped", reason: "non-ASCII byte, receive buffer discarded" });
        return events;
      }
    }
    for (let i = 0; i < bytes.length; i += DECODE_STEP) {
      const part = bytes.subarray(i, Math.min(i + DECODE_STEP, bytes.length));
      this.#buffer += String.fromCharCode.apply(null, part as unknown as number[]);
    }
    this.#cutFrames(events);
    if (this.#buffer.length > this.maxFrameSize + 2 * DELIM_COMPAT.length) {
      this.#buffer = "";
      events.push({ kind: "dropped", reason: "incoming frame is too big" });
    }
    return events;
  }

  #cutFrames(events: UartEvent[]): void {
    for (;;) {
      let end = this.#buffer.indexOf(DELIM_COMPAT);
      let delimLength = DELIM_COMPAT.length;
      if (end >= 0) {
        this.#compat = true;
      } else {
        end = this.#buffer.indexOf("\n");
        delimLength = 1;
        if (end < 0) return;
      }
      const piece = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + delimLength);
      const event = this.#classify(piece);
      if (event) events.push(event);
    }
  }

  #classify(piece: string): UartEvent | undefined {
    if (piece.trim() === "") return { kind: "reply", text: "\n" };
    if (piece === EOF_CHAR) return { kind: "reply", text: DELIM_COMPAT + EOF_CHAR + DELIM_COMPAT };
    const start = piece.indexOf("{");
    const last = piece.lastIndexOf("}");
    // Console input or noise, not a frame: nothing to answer.
    if (start < 0 || last < start) return undefined;
    const json = piece.slice(start, last + 1);
    const meta = piece.slice(last + 1);
    if (meta.length >= 8) {
      const expected = parseInt(meta.slice(0, 8), 16);
      if (!/^[0-9a-fA-F]{8}/.test(meta) || expected !== crc32OfString(json)) {
        return { kind: "dropped", reason: `corrupted frame: CRC ${meta.slice(0, 8)} does not match` };
      }
      this.#crc = true;
    }
    return { kind: "frame", json };
  }

  /** A frame as the peer expects it: `\n` [`"""`] json [crc] [`"""`] `\n`. */
  encode(json: string): string {
    json = asciiJson(json);
    const delim = this.#compat ? DELIM_COMPAT : "";
    const crc = this.#crc ? crcHex(crc32OfString(json)) : "";
    return `\n${delim}${json}${crc}${delim}\n`;
  }
}

/**
 * The same JSON with every non-ASCII character as a \u escape. Outside
 * strings JSON is ASCII already, so this is always valid, and it keeps replies
 * within the bytes a mos-style receiver accepts and the CRC over chars exact.
 */
export function asciiJson(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}
