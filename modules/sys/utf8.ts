// UTF-8 to a string and back (XS has no TextDecoder), for zip names, the
// manifest, UART frames, MQTT packets and digests. Meant for small inputs
// (≤ 16 KB).
//
// Characters outside the BMP differ between engines: XS 13.3 (the virtual
// board's) holds one as a single unit, so length counts it once and
// charCodeAt and codePointAt give its whole code point; XS 17 (Moddable 7
// and 8) and the spec hold a surrogate pair. Code that walks a string by
// unit reads a character with codePointAt() and steps by unitsAt().

/** fromCharCode.apply spreads its arguments on the XS stack; keep the spread small. */
const DECODE_STEP = 256;

/**
 * Malformed sequences become U+FFFD as TextDecoder makes them, rather than
 * failing: JSON.parse or the name checks then refuse what matters.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return decode(bytes, false)!;
}

/** The text, or undefined when the bytes are not well-formed UTF-8 (TextDecoder's `fatal`). */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  return decode(bytes, true);
}

/** XS's String.fromArrayBuffer; Node (the unit tests) has none. */
const fromArrayBuffer = (String as { fromArrayBuffer?: (buffer: ArrayBufferLike) => string }).fromArrayBuffer;

function decode(bytes: Uint8Array, fatal: boolean): string | undefined {
  // Well-formed text is made in one piece by XS (one chunk, no garbage: a
  // 13 KB manifest built 256 characters at a time left 350 KB of strings
  // to collect). It stops at a NUL and takes overlong forms, hence the check.
  if (fromArrayBuffer !== undefined && wellFormedWithoutNul(bytes)) {
    const whole = bytes.byteOffset === 0 && bytes.length === bytes.buffer.byteLength;
    return fromArrayBuffer(whole ? bytes.buffer : bytes.slice().buffer);
  }
  let text = "";
  const units: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let code = 0xfffd;
    let length = 1;
    let malformed = true;
    if (b < 0x80) {
      malformed = false;
      code = b;
    } else if (b >= 0xc2 && b <= 0xf4) {
      length = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
      const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      let value = b & (0x7f >> length);
      let j = 1;
      for (; j < length && i + j < bytes.length; j++) {
        const c = bytes[i + j]!;
        if (c < (j === 1 ? low : 0x80) || c > (j === 1 ? high : 0xbf)) break;
        value = (value << 6) | (c & 0x3f);
      }
      malformed = j !== length;
      if (!malformed) code = value;
      else length = j; // one U+FFFD for the broken prefix; resume at the byte that broke it
    }
    if (malformed && fatal) return undefined;
    i += length;
    if (code >= 0x10000) {
      code -= 0x10000;
      units.push(0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
    } else {
      units.push(code);
    }
    if (units.length >= DECODE_STEP) {
      text += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return text + String.fromCharCode.apply(null, units);
}

/** Whether `bytes` is well-formed UTF-8 (as `decodeUtf8Strict` takes it) with no NUL. */
function wellFormedWithoutNul(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b === 0) return false;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b < 0xc2 || b > 0xf4) return false;
    const length = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let j = 1; j < length; j++) {
      const c = bytes[i + j];
      if (c === undefined || c < (j === 1 ? low : 0x80) || c > (j === 1 ? high : 0xbf)) return false;
    }
    i += length;
  }
  return true;
}

/** The code point of the character at `i`, U+FFFD for a lone surrogate. */
export function codePointAt(text: string, i: number): number {
  const c = text.codePointAt(i)!;
  return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
}

/** Code units the character at `i` takes: 2 for a surrogate pair, else 1 (a whole character outside the BMP on XS 13.3 too). */
export function unitsAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && text.codePointAt(i)! > 0xffff ? 2 : 1;
}

function utf8Size(c: number): number {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

/** Byte length of a string in UTF-8, for an exact Content-Length. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i += unitsAt(text, i)) length += utf8Size(codePointAt(text, i));
  return length;
}

/**
 * UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does).
 * Counted first, then written into one array of exactly that size: building
 * a number[] instead costs a 16-byte XS slot per byte, regrown as it fills,
 * and a 2 KB request head (OTA.Update's long URL) then ran the heap out.
 */
export function encodeUtf8(text: string): Uint8Array {
  const out = new Uint8Array(utf8Length(text));
  let at = 0;
  for (let i = 0; i < text.length; i += unitsAt(text, i)) {
    const c = codePointAt(text, i);
    const size = utf8Size(c);
    if (size === 1) {
      out[at++] = c;
      continue;
    }
    // The lead byte carries the size in its high bits, then 6 bits a byte.
    out[at++] = ((0xf00 >> size) & 0xff) | (c >> (6 * (size - 1)));
    for (let shift = 6 * (size - 2); shift >= 0; shift -= 6) out[at++] = 0x80 | ((c >> shift) & 63);
  }
  return out;
}

/**
 * The same JSON with every non-ASCII character as \u escapes (a surrogate
 * pair past the BMP). Outside strings JSON is ASCII already, so this is
 * always valid JSON, one byte per character: a receiver that counts chars
 * as bytes (a CRC, a record of bytes) reads it right.
 */
export function asciiJson(json: string): string {
  let ascii = "";
  let from = 0;
  for (let i = 0; i < json.length; ) {
    const units = unitsAt(json, i);
    const c = codePointAt(json, i);
    if (c >= 0x80) {
      ascii += json.slice(from, i);
      if (c > 0xffff) ascii += unicodeEscape(0xd800 + ((c - 0x10000) >> 10)) + unicodeEscape(0xdc00 + ((c - 0x10000) & 0x3ff));
      else ascii += unicodeEscape(c);
      from = i + units;
    }
    i += units;
  }
  return from === 0 ? json : ascii + json.slice(from);
}

const unicodeEscape = (unit: number) => "\\u" + unit.toString(16).padStart(4, "0");
