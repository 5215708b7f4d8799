// make fuzz: structure-aware and mutation fuzzing of every RPC channel of the
// virtual board through its real transports, and of fw.zip packages through
// OTA.Update and the push API. Seeded and bounded; see host/fuzz/README.md.
//
//   npx tsx host/fuzz/run.ts --mode short|long --seed N [--transport uart,http,ws,mqtt,ota-update,ota-push]
//   npx tsx host/fuzz/run.ts --transport X --seed N --case K      (one case, or A-B: a sequence, on a fresh board)
//
// Writes bench/results/fuzz.json; exits 1 when anything was found, after a
// reproduction line for each finding (inputs in build/fuzz/findings/).

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT, boardBits } from "../vboard/assets.ts";
import { loadFirmware } from "./board.ts";
import { emptyFigures, type EngineOptions, type Finding, type TransportFigures } from "./engine.ts";
import { openSession } from "./session.ts";
import { TRANSPORTS, type TransportName } from "./target.ts";

/** Cases per transport and the time each may take, per mode. */
const MODES = {
  // About 90 s in all here; the package paths get more of it (a case is a whole update).
  short: {
    cases: { uart: 800, http: 500, ws: 400, mqtt: 400, "ota-push": 150, "ota-update": 100 },
    seconds: { uart: 10, http: 12, ws: 10, mqtt: 9, "ota-push": 18, "ota-update": 22 },
  },
  long: {
    cases: { uart: 10_000, http: 10_000, ws: 10_000, mqtt: 10_000, "ota-push": 10_000, "ota-update": 10_000 },
    // A package case is a whole update: the package paths get the time 10,000 of them take here.
    seconds: { uart: 300, http: 400, ws: 400, mqtt: 300, "ota-push": 1800, "ota-update": 900 },
  },
} as const satisfies Record<string, { cases: Record<TransportName, number>; seconds: Record<TransportName, number> }>;

function usage(message: string): never {
  process.stderr.write(`error: ${message}\nusage: npx tsx host/fuzz/run.ts [--mode short|long] [--seed N] [--transport ${TRANSPORTS.join(",")}] [--case K|A-B] [--cases N] [--seconds S] [--firmware tree|head|manifest.json] [--out FILE]\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "short" },
    seed: { type: "string", default: "1" },
    transport: { type: "string" },
    case: { type: "string" },
    cases: { type: "string" },
    seconds: { type: "string" },
    firmware: { type: "string", default: process.env.FUZZ_FIRMWARE ?? "tree" },
    out: { type: "string", default: path.join(REPO_ROOT, "bench/results/fuzz.json") },
    findings: { type: "string", default: path.join(REPO_ROOT, "build/fuzz/findings") },
    bisect: { type: "string" },
    quiet: { type: "boolean", default: false },
  },
});

const mode = values.mode as keyof typeof MODES;
if (!(mode in MODES)) usage(`--mode is short or long, not ${values.mode}`);
const seed = Number(values.seed);
if (!Number.isSafeInteger(seed) || seed < 0) usage(`--seed must be a non-negative integer`);
const transports = (values.transport ?? TRANSPORTS.join(",")).split(",").map((t) => t.trim()) as TransportName[];
for (const t of transports) if (!TRANSPORTS.includes(t)) usage(`unknown transport ${t}`);
const print = (line: string) => process.stdout.write(line + "\n");
const reproExtra = values.firmware === "tree" ? "" : ` --firmware ${values.firmware}`;
// Bisecting costs fresh boards: the short mode bisects the first finding of each kind only.
const bisect = values.bisect !== undefined ? Number(values.bisect) : mode === "short" ? 1 : 3;
const options: EngineOptions = { seed, findingsDir: values.findings!, bisectPerSignature: bisect, reproExtra, print };

async function replayCases(name: TransportName, spec: string): Promise<number> {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec);
  if (!m) usage(`--case is K or A-B`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  const fw = await loadFirmware(values.firmware);
  const session = await openSession(name, fw, options);
  try {
    const records = [];
    for (let i = first; i <= last; i++) records.push(session.engine.make(i));
    for (const r of records) print(`case ${r.index}: ${r.generator}\n${JSON.stringify(r.payload).slice(0, 2000)}`);
    const { verdict, console } = await session.engine.tryOnFresh(records);
    for (const line of console) print(`  | ${line}`);
    print(verdict ? `${verdict.kind}: ${verdict.detail}` : "no finding: the board stayed up, answered and kept its state");
    return verdict ? 1 : 0;
  } finally {
    await session.close();
  }
}

async function main(): Promise<number> {
  if (values.case !== undefined) {
    if (transports.length !== 1) usage("--case needs exactly one --transport");
    return replayCases(transports[0]!, values.case);
  }
  const started = Date.now();
  // Findings of this run only: earlier ones are in the results they were reported with.
  fs.rmSync(values.findings!, { recursive: true, force: true });
  print(`fuzz: mode ${mode}, seed ${seed}, firmware ${values.firmware}, ${boardBits().bits}-bit board, transports ${transports.join(", ")}`);
  const fw = await loadFirmware(values.firmware);
  const figures: Partial<Record<TransportName, TransportFigures>> = {};
  const findings: Finding[] = [];
  for (const name of transports) {
    const count = values.cases !== undefined ? Number(values.cases) : MODES[mode].cases[name];
    const seconds = values.seconds !== undefined ? Number(values.seconds) : MODES[mode].seconds[name];
    let session;
    try {
      session = await openSession(name, fw, options);
    } catch (e) {
      print(`${name}: cannot start: ${(e as Error).message}`);
      figures[name] = { ...emptyFigures(), counts: { setupFailed: 1 } };
      continue;
    }
    try {
      await session.engine.run(0, count, Date.now() + seconds * 1000);
      const f = session.engine.figures;
      Object.assign(f.counts, session.target.figures?.() ?? {});
      figures[name] = f;
      findings.push(...session.engine.findings);
      print(
        `${name}: ${f.cases} cases in ${f.seconds.toFixed(1)} s (${f.casesPerSecond}/s), ${f.crashes} crashes, ${f.hangs} hangs, ${f.resets} resets, ${f.stateChanges} state changes, ${f.storms} storms, ${f.disconnects} disconnects, ${f.injections} injections${f.truncated ? " (time budget reached)" : ""}` +
          (Object.keys(f.counts).length ? `; ${Object.entries(f.counts).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""),
      );
    } finally {
      await session.close();
    }
  }
  const nativeFile = path.join(REPO_ROOT, "build/fuzz/native/summary.json");
  let native: unknown = null;
  if (fs.existsSync(nativeFile)) {
    try {
      native = JSON.parse(fs.readFileSync(nativeFile, "utf8"));
    } catch (e) {
      native = { error: `${path.relative(REPO_ROOT, nativeFile)} is not JSON: ${(e as Error).message}` };
    }
  }
  const result = {
    generated: new Date().toISOString(),
    mode,
    seed,
    firmware: values.firmware,
    boardBits: boardBits().bits,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    transports: figures,
    findings: findings.map((f) => ({ id: f.id, transport: f.transport, kind: f.kind, detail: f.detail, cases: f.cases, alone: f.alone, reproduced: f.reproduced, repro: f.repro, file: f.file && path.relative(REPO_ROOT, f.file) })),
    native,
  };
  fs.mkdirSync(path.dirname(values.out!), { recursive: true });
  fs.writeFileSync(values.out!, JSON.stringify(result, null, 2) + "\n");
  print(`results: ${path.relative(process.cwd(), values.out!)} (${result.seconds} s)`);
  const failed = Object.values(figures).some((f) => f && f.crashes + f.hangs + f.resets + f.stateChanges + f.storms + f.disconnects + f.injections > 0 || (f?.counts.setupFailed ?? 0) > 0);
  if (failed) {
    print(`${findings.length} finding(s):`);
    for (const f of findings) print(`  ${f.kind} ${f.transport}: ${f.detail.slice(0, 160)}\n    ${f.repro}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
