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

const WS = " \t\n\r";

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
  while (i < s.length && WS.includes(s[i]!)) i++;
  return i;
}

/** Index just past the value starting at i. */
function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') {
    for (i++; i < s.length; i++) {
      if (s[i] === "\\") i++;
      else if (s[i] === '"') return i + 1;
    }
    return i;
  }
  if (c === "{" || c === "[") {
    let depth = 0;
    for (; i < s.length; i++) {
      const d = s[i];
      if (d === '"') i = skipValue(s, i) - 1;
      else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        if (--depth === 0) return i + 1;
      }
    }
    return i;
  }
  while (i < s.length && !",}] \t\n\r".includes(s[i]!)) i++;
  return i;
}
