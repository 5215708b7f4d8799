// Limits on JSON that arrives from outside (RPC frames, REST arguments, a
// package's manifest.json), checked by one scan before JSON.parse sees the
// text. XS's JSON.parse recurses once per nesting level on the C stack and
// gives every value a slot: `[` nested 1,900 deep overflows the stack, and
// 16 KB of `[0,0,...]` becomes 8,000 slots (128 KB on an ESP32), each a
// reset that reverts a trial image. The scan allocates nothing.

export interface JsonLimits {
  /** Objects and arrays inside one another. */
  readonly maxDepth: number;
  /** Values in the whole text, counted as 1 + each `{`, `[` and `,`: never fewer than there are. */
  readonly maxValues: number;
  /** Characters between the quotes of one string, escapes as written. */
  readonly maxString: number;
}

/**
 * What RPC frames and the manifest may hold. A frame is 4 levels deep
 * around its params (frame, params, config, section); the deepest config
 * path here is 4 more. mos's largest calls (Config.Set of a whole config,
 * OTA.Write) stay well inside the value and string counts.
 */
export const JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 1024, maxString: 16384 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Undefined when `text` is within `limits`, else why not. Only counts; JSON
 * syntax is JSON.parse's to check, and a text that is not JSON may pass.
 */
export function jsonLimitError(text: string, limits: JsonLimits = JSON_LIMITS): string | undefined {
  let depth = 0;
  let values = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i + 1);
      if (end - i - 1 > limits.maxString) return `a string longer than ${limits.maxString} characters`;
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      // { [
      if (++depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth}`;
      if (++values > limits.maxValues) return `more than ${limits.maxValues} values`;
    } else if (c === 0x7d || c === 0x5d) {
      // } ]
      depth--;
    } else if (c === 0x2c) {
      // ,
      if (++values > limits.maxValues) return `more than ${limits.maxValues} values`;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string whose first character is at `i` (text.length if none). */
function stringEnd(text: string, i: number): number {
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}
