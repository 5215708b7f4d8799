// Reading a callgrind.out file (valgrind's callgrind format, version 1):
// the instructions executed in each source file (exclusive: what the code
// of that file itself ran), and for named functions their inclusive
// instructions (their own plus everything they called) and how often they
// were called. Names may be compressed ("(7) name" once, then "(7)"); a
// "calls=N" line counts N calls of the function its "cfn=" line named, and
// the cost line after it is those calls' inclusive cost, charged to the
// caller's inclusive figure only.

import fs from "node:fs";

export interface CallgrindProfile {
  /** Instructions (Ir) by source file, exclusive. */
  readonly byFile: ReadonlyMap<string, number>;
  /** Instructions (Ir) by function, exclusive. */
  readonly byFunction: ReadonlyMap<string, number>;
  /** Instructions (Ir) of the functions asked for, inclusive. */
  readonly inclusive: ReadonlyMap<string, number>;
  /** How often the functions asked for were called. */
  readonly calls: ReadonlyMap<string, number>;
  readonly total: number;
}

/** Resolves "(id) name" and "(id)" to the name, remembering ids per table. */
class Names {
  readonly #tables = new Map<string, Map<string, string>>();
  resolve(kind: string, text: string): string {
    const table = this.#tables.get(kind) ?? new Map<string, string>();
    this.#tables.set(kind, table);
    const m = /^\((\d+)\)\s*(.*)$/.exec(text);
    if (!m) return text;
    if (m[2]) table.set(m[1]!, m[2]);
    return table.get(m[1]!) ?? text;
  }
}

/** Which name table a specification line's name is in: a called function's (cfn) is a function's, and so on. */
const TABLE: Record<string, string> = { fl: "file", fi: "file", fe: "file", cfi: "file", cfl: "file", fn: "fn", cfn: "fn", ob: "ob", cob: "ob" };

export function readCallgrind(path: string, functions: readonly string[]): CallgrindProfile {
  const names = new Names();
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>(functions.map((f) => [f, 0]));
  const calls = new Map<string, number>(functions.map((f) => [f, 0]));
  let called = "";
  let fnFile = "";
  let costFile = "";
  let fn = "";
  let afterCalls = false;
  let total = 0;
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    const spec = /^(fl|fi|fe|fn|cfi|cfl|cfn|ob|cob)=(.*)$/.exec(line);
    if (spec) {
      const kind = spec[1]!;
      const name = names.resolve(TABLE[kind]!, spec[2]!);
      if (kind === "cfn") called = name;
      else if (kind === "fl") fnFile = costFile = name;
      else if (kind === "fi" || kind === "fe") costFile = name;
      else if (kind === "fn") {
        fn = name;
        costFile = fnFile;
      }
      continue;
    }
    if (line.startsWith("calls=")) {
      afterCalls = true;
      if (calls.has(called)) calls.set(called, calls.get(called)! + Number(/^calls=(\d+)/.exec(line)![1]));
      continue;
    }
    const cost = /^[+-]?(?:\d+|\*)\s+(\d+)/.exec(line);
    if (!cost) continue;
    const ir = Number(cost[1]);
    if (inclusive.has(fn)) inclusive.set(fn, inclusive.get(fn)! + ir);
    if (afterCalls) afterCalls = false;
    else {
      byFile.set(costFile, (byFile.get(costFile) ?? 0) + ir);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ir);
      total += ir;
    }
  }
  return { byFile, byFunction, inclusive, calls, total };
}
