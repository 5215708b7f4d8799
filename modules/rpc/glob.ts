// Mongoose's glob lists (mg_match_prefix_n as ACLs use it): alternatives
// separated by "," or "|", "*" matching any run of characters and "?" any
// one; a pattern must match the whole text. Used for method names in ACL
// entries and for user names in their allow lists.

export function matchesGlobList(list: string, text: string): boolean {
  for (const pattern of list.split(/[,|]/)) {
    if (matchesGlob(pattern.trim(), text)) return true;
  }
  return false;
}

/** Iterative wildcard match with one backtrack point: linear in practice, never exponential. */
export function matchesGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}
