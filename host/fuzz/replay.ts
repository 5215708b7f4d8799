// Replays the fuzzer's findings kept as regressions (host/fuzz/regressions/*.json)
// through the real transports, each on a fresh board, with the same oracle as
// run.ts: the board must stay up, answer within 5 s and keep its state.
//
//   npx tsx host/fuzz/replay.ts [--only NAME[,NAME]] [--firmware tree|head|manifest.json]
//
// Exit status 1 when a regression fails (its finding is back, or not fixed
// yet: "status": "open" says which are expected to fail until the firmware
// is fixed), 0 when all pass.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../vboard/assets.ts";
import { loadFirmware } from "./board.ts";
import { openSession } from "./session.ts";
import type { CaseRecord, TransportName } from "./target.ts";

export interface Regression {
  readonly name: string;
  readonly transport: TransportName;
  /** "open": found, not fixed yet (fails until it is); "fixed". */
  readonly status: "open" | "fixed";
  readonly symptom: string;
  readonly description: string;
  /** Where it came from: the run and case, the finding's console lines. */
  readonly found?: Record<string, unknown>;
  /** The cases, in order, delivered on one fresh board. */
  readonly records: ReadonlyArray<CaseRecord<unknown>>;
}

export const REGRESSIONS_DIR = fileURLToPath(new URL("./regressions/", import.meta.url));

export function loadRegressions(only?: string[]): Regression[] {
  if (!fs.existsSync(REGRESSIONS_DIR)) return [];
  return fs
    .readdirSync(REGRESSIONS_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(REGRESSIONS_DIR, f), "utf8")) as Regression)
    .filter((r) => !only || only.includes(r.name));
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: "string" }, firmware: { type: "string", default: process.env.FUZZ_FIRMWARE ?? "tree" } } });
  const regressions = loadRegressions(values.only?.split(","));
  if (regressions.length === 0) {
    process.stdout.write("no regressions to replay\n");
    return 0;
  }
  const print = (line: string) => process.stdout.write(line + "\n");
  const fw = await loadFirmware(values.firmware);
  const byTransport = new Map<TransportName, Regression[]>();
  for (const r of regressions) byTransport.set(r.transport, [...(byTransport.get(r.transport) ?? []), r]);
  const failed: string[] = [];
  const started = Date.now();
  for (const [transport, list] of byTransport) {
    const session = await openSession(transport, fw, { seed: 0, findingsDir: path.join(REPO_ROOT, "build/fuzz/findings"), bisectPerSignature: 0, reproExtra: "", print: () => {} });
    try {
      for (const r of list) {
        const t0 = Date.now();
        const { verdict, console } = await session.engine.tryOnFresh(r.records);
        const ms = Date.now() - t0;
        if (!verdict) {
          print(`ok    ${r.name} (${transport}, ${ms} ms)${r.status === "open" ? " [marked open: it passes now, mark it fixed]" : ""}`);
          continue;
        }
        failed.push(r.name);
        print(`FAIL  ${r.name} (${transport}, ${r.status}): ${verdict.kind}: ${verdict.detail}`);
        print(`      ${r.description}`);
        for (const line of console.slice(-12)) print(`      | ${line}`);
      }
    } finally {
      await session.close();
    }
  }
  print(`${regressions.length - failed.length} of ${regressions.length} fuzz regressions pass (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return failed.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`replay: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(2);
    },
  );
}
