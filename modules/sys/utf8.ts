// UTF-8 to a string (XS has no TextDecoder), for zip names, the manifest and
// UART frames. Meant for small inputs (≤ 16 KB).

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
