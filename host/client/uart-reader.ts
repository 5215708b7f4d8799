// The host side of mgrpc over a UART, as mos reads it: the device's output is
// console log text with frames in between. A frame is a line that starts with
// `{` (possibly wrapped in `"""`), with optional CRC metadata after its last
// `}`; everything else is log. XON/XOFF bytes are flow control, never data.

import { crc32OfString, crcHex } from "rpc/crc32";
import { asciiJson } from "sys/utf8";

export type UartOutput =
  | { readonly kind: "frame"; readonly json: string }
  | { readonly kind: "handshake" }
  | { readonly kind: "empty" }
  | { readonly kind: "log"; readonly line: string }
  | { readonly kind: "corrupt"; readonly text: string };

const DELIM = '"""';
const HANDSHAKE_REPLY = '"""\x04"""';

export class UartReader {
  #buffer = "";

  /** Feed bytes read from the port; returns what they completed. */
  push(chunk: Uint8Array): UartOutput[] {
    this.#buffer += Buffer.from(chunk).toString("latin1").replace(/[\x11\x13]/g, "");
    const out: UartOutput[] = [];
    let nl: number;
    while ((nl = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, nl).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(nl + 1);
      out.push(classifyLine(line));
    }
    // The handshake answer may arrive without a newline after it.
    const hs = this.#buffer.indexOf(HANDSHAKE_REPLY);
    if (hs >= 0) {
      const before = this.#buffer.slice(0, hs);
      if (before.trim() !== "") out.push({ kind: "log", line: utf8(before) });
      this.#buffer = this.#buffer.slice(hs + HANDSHAKE_REPLY.length);
      out.push({ kind: "handshake" });
    }
    return out;
  }
}

function classifyLine(line: string): UartOutput {
  let body = line;
  if (body.startsWith(DELIM)) body = body.slice(DELIM.length);
  if (body.endsWith(DELIM)) body = body.slice(0, -DELIM.length);
  if (body.trim() === "") return { kind: "empty" };
  if (body === "\x04") return { kind: "handshake" };
  if (body[0] !== "{") return { kind: "log", line: utf8(line) };
  const last = body.lastIndexOf("}");
  const json = body.slice(0, last + 1);
  const meta = body.slice(last + 1);
  if (meta.length >= 8 && meta.slice(0, 8).toLowerCase() !== crcHex(crc32OfString(json))) {
    return { kind: "corrupt", text: utf8(body) };
  }
  return { kind: "frame", json: utf8(json) };
}

/** Bytes held as latin1 chars back to the text they encode. */
function utf8(latin1: string): string {
  return Buffer.from(latin1, "latin1").toString("utf8");
}

/**
 * One frame as mos frames it, \n"""<json><crc>"""\n, with the JSON in ASCII
 * (\u escapes), as the device writes its own: every byte is a character, so
 * the CRC is the same whether a receiver sums bytes or chars.
 */
export function encodeMosFrame(json: string): Buffer {
  const ascii = asciiJson(json);
  return Buffer.from(`\n"""${ascii}${crcHex(crc32OfString(ascii))}"""\n`, "latin1");
}

/** mos's handshake probe: """ EOF """ and two empty lines. */
export const HANDSHAKE_PROBE = Buffer.from('"""\x04"""\n\n', "latin1");
