// The raw text of each top-level member of a JSON object. JSON.parse turns
// every number into a double, which would change an id such as
// 18446744073709551617; the frame codec echoes ids and tags from this raw text
// so they come back byte for byte.

export interface RawMember {
  /** The member's value exactly as it appears in the input. */
  readonly text: string;
  /** JSON type of the value, from its first character. */
  readonly kind: "string" | "number" | "object" | "array" | "boolean" | "null";
}

// The scans jump with native searches (RegExp exec) instead of stepping
// through characters: on XS a string is UTF-8, so s[i] and s.length walk
// the string from its start and s[i] allocates, which made every frame of
// a push cost time and garbage quadratic in its length (bench/work-per-byte.ts).
const NOT_WS = /[^ \t\n\r]/g;
const SCALAR_END = /[,}\] \t\n\r]/g;
const STRING_END = /["\\]/g;
const STRUCTURE = /["{}[\]]/g;

/** The first match of the global `pattern` in s from `from`: its index and character, or s's end. */
function next(pattern: RegExp, s: string, from: number): { at: number; c: string | undefined } {
  pattern.lastIndex = from;
  const m = pattern.exec(s);
  return m ? { at: m.index, c: m[0] } : { at: s.length, c: undefined };
}

/**
 * Top-level members of a JSON object text. The text must already be known to
 * be valid JSON (parse it with JSON.parse first); this only locates values.
 * Returns undefined when the text is not an object.
 */
export function rawMembers(json: string): Map<string, RawMember> | undefined {
  let i = skipWs(json, 0);
  if (json[i] !== "{") return undefined;
  const members = new Map<string, RawMember>();
  i = skipWs(json, i + 1);
  if (json[i] === "}") return members;
  for (;;) {
    const keyEnd = skipValue(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipWs(json, skipWs(json, keyEnd) + 1); // past ':'
    const valueEnd = skipValue(json, i);
    members.set(key, { text: json.slice(i, valueEnd), kind: kindOf(json[i]!) });
    i = skipWs(json, valueEnd);
    if (json[i] !== ",") return members;
    i = skipWs(json, i + 1);
  }
}

function kindOf(c: string): RawMember["kind"] {
  if (c === '"') return "string";
  if (c === "{") return "object";
  if (c === "[") return "array";
  if (c === "t" || c === "f") return "boolean";
  if (c === "n") return "null";
  return "number";
}

function skipWs(s: string, i: number): number {
  return next(NOT_WS, s, i).at;
}

/** Index just past the string whose opening quote is at i. */
function skipString(s: string, i: number): number {
  for (let from = i + 1; ; ) {
    const { at, c } = next(STRING_END, s, from);
    if (c === undefined) return at;
    if (c === '"') return at + 1;
    from = at + 2; // past the escaped character
  }
}

/** Index just past the value starting at i. */
function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let from = i; ; ) {
      const { at, c: d } = next(STRUCTURE, s, from);
      if (d === undefined) return at;
      if (d === '"') {
        from = skipString(s, at);
        continue;
      }
      if (d === "{" || d === "[") depth++;
      else if (--depth === 0) return at + 1;
      from = at + 1;
    }
  }
  return next(SCALAR_END, s, i).at;
}
