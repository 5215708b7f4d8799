// Limits on JSON that arrives from outside (RPC frames, REST arguments, a
// package's manifest.json), checked by one scan before JSON.parse sees the
// text. XS's JSON.parse recurses once per nesting level on the C stack and
// gives every value a slot: `[` nested 1,900 deep overflows the stack, and
// 16 KB of `[0,0,...]` becomes 8,000 slots (128 KB on an ESP32), each a
// reset that reverts a trial image. The scan allocates nothing.
//
// And JSON.parse makes every member name a key of the engine for the rest
// of the boot (sys/names). `readJson` parses by itself: only names the
// engine holds become property names; members with other names are set
// aside in a Map (`otherMembers`), which only what may add names reads
// (Config.Set's map entries, such as a new user); unknown arguments are
// ignored anyway.

import { isHeldName } from "sys/names";

export interface JsonLimits {
  /** Objects and arrays inside one another. */
  readonly maxDepth: number;
  /** Values in the whole text, counted as 1 + each `{`, `[` and `,`: never fewer than there are. */
  readonly maxValues: number;
  /** Characters between the quotes of one string, escapes as written. */
  readonly maxString: number;
}

/**
 * What an RPC frame may hold. A frame is 4 levels deep around its params
 * (frame, params, config, section); the deepest config path here is 4 more.
 * Each value read costs a 16-byte slot or more, and several frames may be
 * read at once (one a connection): 256 values, about 8 KB when parsed.
 * mos's largest calls (Config.Set of a whole config, about 40 values;
 * OTA.Write, 5) stay well inside; no string is longer than a frame.
 */
export const JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 256, maxString: 4096 };

export type JsonRead =
  | { readonly ok: true; readonly value: unknown }
  /** `overLimit`: the text is over JSON_LIMITS (why, in `reason`); else it is not JSON. */
  | { readonly ok: false; readonly overLimit: boolean; readonly reason: string };

/** Where an object read by readJson keeps its members with names the engine does not hold. */
const OTHER_MEMBERS = Symbol("other members");

/** The members of an object from readJson whose names were not made property names, by name. */
export function otherMembers(object: object): ReadonlyMap<string, unknown> | undefined {
  return (object as { [OTHER_MEMBERS]?: Map<string, unknown> })[OTHER_MEMBERS];
}

/**
 * JSON from outside: within `limits`, valid, and parsed as JSON.parse would,
 * except that members whose names the engine does not hold are set aside
 * (see above). Invalid JSON is refused as a whole.
 */
export function readJson(text: string, limits: JsonLimits = JSON_LIMITS): JsonRead {
  const overLimit = jsonLimitError(text, limits);
  if (overLimit) return { ok: false, overLimit: true, reason: overLimit };
  // JSON holds no raw U+0000 in any token; STRING_RUN cannot exclude it (see
  // there), so a text with one is refused here first.
  const nul = text.indexOf("\u0000");
  if (nul >= 0) return { ok: false, overLimit: false, reason: `not valid JSON (at character ${nul})` };
  const reader = new JsonReader(text);
  const value = reader.document();
  if (value === INVALID) return { ok: false, overLimit: false, reason: `not valid JSON (at character ${reader.at})` };
  return { ok: true, value };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// String methods called with the string as `this`: on XS, a method called
// on a string primitive makes a String object for the call (heap slots,
// garbage at once), and these run at every token of every frame; called
// this way, they make none.
const charCodeAt = String.prototype.charCodeAt;
const indexOf = String.prototype.indexOf;
const startsWith = String.prototype.startsWith;

/**
 * Undefined when `text` is within `limits`, else why not. Only counts; JSON
 * syntax is JSON.parse's to check, and a text that is not JSON may pass.
 */
export function jsonLimitError(text: string | Uint8Array, limits: JsonLimits = JSON_LIMITS): string | undefined {
  // The same scan over UTF-8 bytes (a manifest before it is decoded): every
  // character it counts is ASCII, and a string's length is then in bytes.
  const codeAt = typeof text === "string" ? (i: number) => charCodeAt.call(text, i) : (i: number) => text[i]!;
  const quoteFrom = typeof text === "string" ? (i: number) => indexOf.call(text, '"', i) : (i: number) => text.indexOf(QUOTE, i);
  // Read once: on XS a string's length is counted from its UTF-8 each time.
  const length = text.length;
  let depth = 0;
  let values = 1;
  for (let i = 0; i < length; i++) {
    const c = codeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(length, i + 1, codeAt, quoteFrom);
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

/** Index of the quote that closes the string whose first character is at `i` (`length` if none). */
function stringEnd(length: number, i: number, codeAt: (i: number) => number, quoteFrom: (i: number) => number): number {
  for (;;) {
    const quote = quoteFrom(i);
    if (quote < 0) return length;
    let backslashes = 0;
    while (quote - 1 - backslashes >= 0 && codeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const STRING_ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
/**
 * Characters a JSON string holds as they are: all but the quote, the
 * backslash and controls. Not U+0000 itself: on XS 13.3 a negated class whose
 * range starts at U+0000 excludes nothing of that range (/[^\u0000-\u001f]/
 * passes "\u0013"), so the range starts at U+0001 and readJson refuses U+0000
 * before parsing.
 */
const STRING_RUN = /[^"\\\u0001-\u001f]*/y;
const TRUE = ["true", true] as const;
const FALSE = ["false", false] as const;
const NULL = ["null", null] as const;
/** What the reader returns for text that is not JSON. */
const INVALID = Symbol("invalid JSON");

/**
 * A JSON (RFC 8259) parser for a text already within the limits, so its
 * recursion is bounded by maxDepth.
 */
class JsonReader {
  at = 0;
  readonly #text: string;
  /** The text's length, read once: XS counts it from the UTF-8 on every read, and the reader needs it at every token. */
  readonly #length: number;

  constructor(text: string) {
    this.#text = text;
    this.#length = text.length;
  }

  document(): unknown {
    const value = this.#value();
    return value !== INVALID && this.#space() === this.#length ? value : INVALID;
  }

  #space(): number {
    const text = this.#text;
    while (this.at < this.#length) {
      const c = charCodeAt.call(text, this.at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.at++;
    }
    return this.at;
  }

  #value(): unknown {
    const c = charCodeAt.call(this.#text, this.#space());
    if (c === 0x7b) return this.#object();
    if (c === 0x5b) return this.#array();
    if (c === QUOTE) return this.#string();
    // t, f, n: the literal it must be
    const literal = c === 0x74 ? TRUE : c === 0x66 ? FALSE : c === 0x6e ? NULL : undefined;
    if (literal) {
      if (!startsWith.call(this.#text, literal[0], this.at)) return INVALID;
      this.at += literal[0].length;
      return literal[1];
    }
    NUMBER.lastIndex = this.at;
    if (!NUMBER.test(this.#text)) return INVALID;
    const start = this.at;
    this.at = NUMBER.lastIndex;
    return Number(this.#text.slice(start, this.at));
  }

  #string(): string | typeof INVALID {
    const text = this.#text;
    const start = this.at;
    let escaped = false;
    for (this.at++; this.at < this.#length; ) {
      // A run of plain characters in one match: XS keeps strings in UTF-8, so
      // each charCodeAt(i) walks from the start, and a character-by-character
      // loop over a 4 KB base64 string (every OTA.Write) is quadratic.
      STRING_RUN.lastIndex = this.at;
      STRING_RUN.test(text);
      this.at = STRING_RUN.lastIndex;
      if (this.at >= this.#length) break;
      const c = charCodeAt.call(text, this.at);
      if (c === QUOTE) {
        this.at++;
        // A string value, not a name: JSON.parse makes no key of it.
        return escaped ? (JSON.parse(text.slice(start, this.at)) as string) : text.slice(start + 1, this.at - 1);
      }
      if (c < 0x20) return INVALID;
      STRING_ESCAPE.lastIndex = this.at; // the run stopped at a backslash
      if (!STRING_ESCAPE.test(text)) return INVALID;
      this.at = STRING_ESCAPE.lastIndex;
      escaped = true;
    }
    return INVALID;
  }

  #array(): unknown[] | typeof INVALID {
    const array: unknown[] = [];
    this.at++;
    if (charCodeAt.call(this.#text, this.#space()) === 0x5d) {
      this.at++;
      return array;
    }
    for (;;) {
      const value = this.#value();
      if (value === INVALID) return INVALID;
      array.push(value);
      const c = charCodeAt.call(this.#text, this.#space());
      this.at++;
      if (c === 0x5d) return array;
      if (c !== 0x2c) return INVALID;
    }
  }

  #object(): object | typeof INVALID {
    const text = this.#text;
    const object: Record<string, unknown> & { [OTHER_MEMBERS]?: Map<string, unknown> } = {};
    this.at++;
    if (charCodeAt.call(text, this.#space()) === 0x7d) {
      this.at++;
      return object;
    }
    for (;;) {
      if (charCodeAt.call(text, this.#space()) !== QUOTE) return INVALID;
      const name = this.#string();
      if (name === INVALID || charCodeAt.call(text, this.#space()) !== 0x3a) return INVALID;
      this.at++;
      const value = this.#value();
      if (value === INVALID) return INVALID;
      if (!isHeldName(name)) (object[OTHER_MEMBERS] ??= new Map()).set(name, value);
      // As JSON.parse: an own property even for "__proto__", the last of repeated names.
      else if (name === "__proto__") Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
      else object[name] = value;
      const c = charCodeAt.call(text, this.#space());
      this.at++;
      if (c === 0x7d) return object;
      if (c !== 0x2c) return INVALID;
    }
  }
}
