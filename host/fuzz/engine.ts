// Runs the cases of one transport against one board, in batches, with the
// oracle after each batch:
//
//   1. the board did not restart: no boot ended (a panic or a signal is a
//      crash, a software restart a reset); checked again after the board's
//      clock has moved 2.5 s, so reboots the cases scheduled come due;
//   2. it answers: a clean RPC.Ping through the fuzzed transport, then
//      OTA.GetBootState, OTA.Status, Config.Get and Sys.GetInfo over HTTP,
//      each within 5 s (a hang otherwise);
//   3. nothing changed: the boot state and the configuration are as at the
//      start, and no update is left in progress (a state change otherwise);
//   4. it is quiet: the console and the transport stop talking once the
//      cases are answered (a storm otherwise), and (MQTT) the board kept its
//      broker session (a disconnect otherwise).
//
// A failed batch is bisected on fresh boards: the shortest failing prefix,
// then its last case alone. A finding does not stop the run: the board is
// made fresh and the next batch starts.

import fs from "node:fs";
import path from "node:path";
import type { BootEnd } from "../vboard/supervisor.ts";
import { type BoardMark, type FuzzBoard, sleep, within } from "./board.ts";
import { Rng } from "./prng.ts";
import type { CaseRecord, CaseResult, FindingKind, FuzzTarget, GenContext, TransportName } from "./target.ts";

export interface Verdict {
  readonly kind: FindingKind;
  readonly detail: string;
  readonly bootEnd?: BootEnd;
  /** Seen by the last case itself (an invalid package accepted, the broker dropping the board): that case is the culprit. */
  readonly caseFault?: boolean;
}

export interface BoardState {
  readonly bootState: string;
  readonly status: number;
  readonly statusMessage: string;
  readonly config: string;
  readonly heapUsed: number;
  readonly heapMinFree: number;
}

export interface Finding {
  readonly id: string;
  readonly transport: TransportName;
  readonly kind: FindingKind;
  readonly detail: string;
  readonly seed: number;
  /** The case indexes that reproduce it: one case, or a sequence that must run in order. */
  readonly cases: number[];
  /** Whether the last case alone reproduces it on a fresh board. */
  readonly alone: boolean;
  /** Whether a fresh board reproduced it at all (false: seen once, not again). */
  readonly reproduced: boolean;
  readonly bisected: boolean;
  readonly generators: string[];
  readonly bootEnd?: BootEnd;
  /** The board's console around it. */
  readonly console: string[];
  readonly repro: string;
  readonly file?: string;
}

export interface TransportFigures {
  cases: number;
  crashes: number;
  hangs: number;
  resets: number;
  stateChanges: number;
  storms: number;
  disconnects: number;
  /** UART: control bytes (XON/XOFF, ESC, NUL...) from the input written back in the board's console lines. */
  injections: number;
  seconds: number;
  casesPerSecond: number;
  batches: number;
  /** Case counts of the transport's own (accepted packages, refused connections, ...). */
  counts: Record<string, number>;
  heap: { firstUsed?: number; lastUsed?: number; maxUsed?: number; minFree?: number; samples: number[] };
  findings: string[];
  /** Set when the time budget ended the run before its case count. */
  truncated?: boolean;
}

export interface EngineOptions {
  readonly seed: number;
  readonly findingsDir: string;
  /** Bisect at most this many findings of one signature; later ones are counted and saved whole. */
  readonly bisectPerSignature: number;
  /** Extra options to name in reproduction lines (--firmware head). */
  readonly reproExtra: string;
  readonly print: (line: string) => void;
}

const DEBUG = process.env.FUZZ_DEBUG === "1";

const KIND_FIELD: Record<FindingKind, keyof TransportFigures> = {
  crash: "crashes",
  injection: "injections",
  reset: "resets",
  hang: "hangs",
  stateChange: "stateChanges",
  storm: "storms",
  disconnect: "disconnects",
};

export function emptyFigures(): TransportFigures {
  return { cases: 0, crashes: 0, hangs: 0, resets: 0, stateChanges: 0, storms: 0, disconnects: 0, injections: 0, seconds: 0, casesPerSecond: 0, batches: 0, counts: {}, heap: { samples: [] }, findings: [] };
}

/** The board went down: a panic, a signal or an unbootable flash is a crash; a restart a reset. */
export function classifyBootEnd(end: BootEnd): Verdict {
  const what = `${end.meaning}${end.reason ? `: ${end.reason}` : ""}`;
  if (end.code === 3 || end.code === 4) return { kind: "reset", detail: `board restarted (${what})`, bootEnd: end };
  return { kind: "crash", detail: `board went down (${what})`, bootEnd: end };
}

export class Engine<P = unknown> {
  readonly board: FuzzBoard;
  readonly target: FuzzTarget<P>;
  readonly ctx: GenContext;
  readonly options: EngineOptions;
  readonly figures: TransportFigures = emptyFigures();
  readonly findings: Finding[] = [];
  readonly #signatures = new Map<string, number>();
  #baseline: BoardState | undefined;
  /** The first case run on the current board since it was last made fresh. */
  #runFrom = 0;
  /** When the run's time is up: later findings are saved without bisecting. */
  #deadline = Infinity;

  constructor(board: FuzzBoard, target: FuzzTarget<P>, ctx: GenContext, options: EngineOptions) {
    this.board = board;
    this.target = target;
    this.ctx = ctx;
    this.options = options;
  }

  /** The case `index` of this run, generated again from its own random stream. */
  make(index: number): CaseRecord<P> {
    const rng = Rng.forCase(this.options.seed, this.target.name, index);
    const { generator, payload } = this.target.generate(rng, this.ctx);
    return { transport: this.target.name, seed: this.options.seed, index, generator, payload };
  }

  async captureState(): Promise<BoardState> {
    const rpc = this.board.rpc;
    const bootState = await within(rpc.callRaw("OTA.GetBootState"), 5000, "OTA.GetBootState over HTTP");
    const status = (await within(rpc.call("OTA.Status"), 5000, "OTA.Status over HTTP")) as { state: number; message: string };
    const config = await within(rpc.callRaw("Config.Get"), 5000, "Config.Get over HTTP");
    const info = (await within(rpc.call("Sys.GetInfo"), 5000, "Sys.GetInfo over HTTP")) as { ram_size: number; ram_free: number; ram_min_free: number };
    return { bootState, status: status.state, statusMessage: status.message, config, heapUsed: info.ram_size - info.ram_free, heapMinFree: info.ram_min_free };
  }

  /** Fresh board, transport reconnected, baseline taken. */
  async fresh(): Promise<void> {
    await this.board.fresh();
    await this.target.reconnect();
    this.#baseline = await this.captureState();
  }

  async start(): Promise<void> {
    this.#baseline = await this.captureState();
  }

  /** Deliver one case; a harness error (a bug here, or a case that outran its bounds) is a note, not a verdict. */
  async deliver(record: CaseRecord<P>): Promise<CaseResult> {
    const t0 = Date.now();
    try {
      const r = await within(this.target.execute(record.payload), 30_000, `case ${record.index}`);
      if (DEBUG && Date.now() - t0 > 500) this.options.print(`  [debug] case ${record.index} took ${Date.now() - t0} ms: ${record.generator.slice(0, 100)} -> ${r.note ?? ""}`);
      return r;
    } catch (e) {
      if (DEBUG) this.options.print(`  [debug] case ${record.index}: harness error ${(e as Error).message}`);
      return { note: `harness: ${(e as Error).message}`, counts: { harnessErrors: 1 } };
    }
  }

  /** The oracle (see the top of this file). */
  async oracle(mark: BoardMark): Promise<Verdict | undefined> {
    const t0 = Date.now();
    try {
      return await this.#oracle(mark);
    } finally {
      if (DEBUG) this.options.print(`  [debug] oracle took ${Date.now() - t0} ms`);
    }
  }

  async #oracle(mark: BoardMark): Promise<Verdict | undefined> {
    const down = () => this.board.endsSince(mark)[0];
    let end = down();
    if (end) return classifyBootEnd(end);
    await this.board.advance(2500);
    if (DEBUG) this.options.print(`  [debug] advanced`);
    end = down();
    if (end) return classifyBootEnd(end);
    let state: BoardState;
    try {
      await within(this.target.probe(), 5000, `RPC.Ping over ${this.target.name}`);
      state = await this.captureState();
    } catch (e) {
      // A board going down drops the connection before its process has been seen to exit.
      await sleep(300);
      const lostSession = this.target.lostSession?.();
      if (lostSession && !down()) return { kind: "disconnect", detail: `${lostSession}; and then: ${(e as Error).message}` };
      end = down();
      if (end) return classifyBootEnd(end);
      if (!this.board.board.isReady) {
        await this.board.up(20_000).catch(() => undefined);
        end = down();
        if (end) return classifyBootEnd(end);
      }
      return { kind: "hang", detail: (e as Error).message };
    }
    this.#heap(state);
    const base = this.#baseline!;
    if (state.bootState !== base.bootState) return { kind: "stateChange", detail: `OTA.GetBootState ${base.bootState} -> ${state.bootState}` };
    if (!this.target.statusOk(state.status)) return { kind: "stateChange", detail: `OTA.Status state ${state.status} (${state.statusMessage}) after the cases` };
    if (state.config !== base.config) return { kind: "stateChange", detail: `Config.Get ${base.config} -> ${state.config}` };
    const lost = this.target.lostSession?.();
    if (lost) return { kind: "disconnect", detail: lost };
    const injected = this.target.injection?.();
    if (injected) return { kind: "injection", detail: injected };
    const c0 = this.board.log.end;
    await sleep(30);
    if (this.board.log.end - c0 > 1024) {
      const c1 = this.board.log.end;
      await sleep(500);
      const grown = this.board.log.end - c1;
      if (grown > 8192) return { kind: "storm", detail: `the console went on: ${grown} bytes in 0.5 s after the cases were answered` };
    }
    const storm = await this.target.storm?.();
    if (storm) return { kind: "storm", detail: storm };
    return undefined;
  }

  #heap(state: BoardState): void {
    const h = this.figures.heap;
    h.firstUsed ??= state.heapUsed;
    h.lastUsed = state.heapUsed;
    h.maxUsed = Math.max(h.maxUsed ?? 0, state.heapUsed);
    h.minFree = Math.min(h.minFree ?? Infinity, state.heapMinFree);
    if (this.figures.batches % 10 === 0 && h.samples.length < 400) h.samples.push(state.heapUsed);
  }

  #count(result: CaseResult): void {
    for (const [k, v] of Object.entries(result.counts ?? {})) this.figures.counts[k] = (this.figures.counts[k] ?? 0) + v;
  }

  /**
   * Cases `from` .. `from + count - 1`, or until `deadline` (ms since the
   * epoch). Returns when done; findings are in this.findings.
   */
  async run(from: number, count: number, deadline: number): Promise<void> {
    const started = Date.now();
    let i = from;
    this.#runFrom = from;
    this.#deadline = deadline;
    const end = from + count;
    let lastReport = started;
    while (i < end) {
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        this.options.print(`  ${this.target.name}: ${this.figures.cases} cases, ${((this.figures.cases * 1000) / (lastReport - started)).toFixed(1)}/s, ${this.findings.length} findings`);
      }
      if (Date.now() > deadline) {
        this.figures.truncated = true;
        break;
      }
      let mark = this.board.mark();
      const batch: Array<CaseRecord<P>> = [];
      let verdict: Verdict | undefined;
      while (batch.length < this.target.batchSize && i < end) {
        const record = this.make(i++);
        batch.push(record);
        const result = await this.deliver(record);
        this.figures.cases++;
        this.#count(result);
        if (result.fault) {
          verdict = { kind: result.fault.kind, detail: result.fault.detail, caseFault: true };
          break;
        }
        if (result.applied) {
          // A valid package went in (legitimate; its reboot is due on the board's clock):
          // the board must be fresh again. The fresh boot is ours, not the cases'.
          const down = this.board.endsSince(mark)[0];
          if (down) verdict = classifyBootEnd(down);
          else {
            await this.fresh();
            this.#runFrom = i;
            mark = this.board.mark();
          }
          break;
        }
        if (result.suspect || this.board.endsSince(mark).length > 0) break;
      }
      this.figures.batches++;
      verdict ??= await this.oracle(mark);
      if (verdict) await this.#failed(batch, verdict, mark);
    }
    this.figures.seconds += (Date.now() - started) / 1000;
    this.figures.casesPerSecond = this.figures.seconds > 0 ? Math.round((this.figures.cases / this.figures.seconds) * 10) / 10 : 0;
  }

  /** Run `records` on a fresh board and return the oracle's verdict. */
  async tryOnFresh(records: ReadonlyArray<CaseRecord<P>>): Promise<{ verdict?: Verdict; console: string[] }> {
    await this.fresh();
    let mark = this.board.mark();
    let verdict: Verdict | undefined;
    for (const record of records) {
      const result = await this.deliver(record);
      if (result.fault) {
        verdict = { kind: result.fault.kind, detail: result.fault.detail };
        break;
      }
      if (result.applied) {
        const down = this.board.endsSince(mark)[0];
        if (down) {
          verdict = classifyBootEnd(down);
          break;
        }
        await this.fresh();
        mark = this.board.mark();
        continue;
      }
      if (result.suspect || this.board.endsSince(mark).length > 0) break;
    }
    verdict ??= await this.oracle(mark);
    return { verdict, console: consoleAround(this.board, mark) };
  }

  async #failed(batch: ReadonlyArray<CaseRecord<P>>, verdict: Verdict, mark: BoardMark): Promise<void> {
    const name = this.target.name;
    let console = consoleAround(this.board, mark);
    // Findings of one kind and one description are one signature: quoted input and numbers vary.
    const signature = `${verdict.kind}|${verdict.detail.replace(/"(?:[^"\\]|\\.)*"?/g, "Q").replace(/\d+/g, "#").slice(0, 120)}`;
    const seen = this.#signatures.get(signature) ?? 0;
    this.#signatures.set(signature, seen + 1);
    let cases = batch.map((r) => r.index);
    let alone = false;
    let reproduced = true;
    let bisected = false;
    let final = verdict;
    if (verdict.caseFault) {
      // The case that saw it is known; check that it does it alone on a fresh board when there is time.
      const last = batch[batch.length - 1]!;
      cases = [last.index];
      if (seen < this.options.bisectPerSignature && Date.now() < this.#deadline) {
        const alone1 = await this.tryOnFresh([last]);
        alone = alone1.verdict !== undefined;
        bisected = true;
        if (alone1.verdict) console = alone1.console;
        else cases = batch.map((r) => r.index);
      } else alone = true;
    } else if (seen < this.options.bisectPerSignature && Date.now() < this.#deadline) {
      const r = await this.#bisect(batch);
      bisected = true;
      reproduced = r.reproduced;
      if (r.reproduced) {
        cases = r.cases;
        alone = r.alone;
        final = r.verdict ?? verdict;
        console = r.console;
      }
    }
    (this.figures[KIND_FIELD[verdict.kind]] as number)++;
    // Not reproduced by the batch: what ran before it on this board is part of the input.
    const from = reproduced ? cases[0]! : this.#runFrom;
    const caseText = cases.length === 1 && reproduced ? String(cases[0]) : `${from}-${cases[cases.length - 1]}`;
    const id = `${name}-s${this.options.seed}-c${caseText}-${verdict.kind}`;
    const repro = `npx tsx host/fuzz/run.ts --transport ${name} --seed ${this.options.seed} --case ${caseText}${this.options.reproExtra}`;
    const records = batch.filter((r) => cases.includes(r.index));
    const finding: Finding = {
      id,
      transport: name,
      kind: verdict.kind,
      detail: final.kind === verdict.kind ? final.detail : `${verdict.detail}; on a fresh board: ${final.kind}: ${final.detail}`,
      seed: this.options.seed,
      cases,
      alone,
      reproduced,
      bisected,
      generators: records.map((r) => r.generator),
      bootEnd: final.bootEnd ?? verdict.bootEnd,
      console,
      repro,
    };
    const file = path.join(this.options.findingsDir, `${id}.json`);
    fs.mkdirSync(this.options.findingsDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...finding, records }, null, 1) + "\n");
    this.findings.push({ ...finding, file });
    this.figures.findings.push(id);
    this.options.print(`FINDING ${verdict.kind} on ${name}: ${final.detail}`);
    this.options.print(`  cases ${caseText} (${records.map((r) => r.generator).join("; ").slice(0, 300)})${bisected ? (reproduced ? (alone ? ", alone" : ", as a sequence") : ", NOT reproduced on a fresh board") : ", not bisected (signature seen before)"}`);
    this.options.print(`  reproduce: ${repro}`);
    for (const line of console.slice(-25)) this.options.print(`  | ${line}`);
    await this.fresh();
    this.#runFrom = batch[batch.length - 1]!.index + 1;
  }

  async #bisect(batch: ReadonlyArray<CaseRecord<P>>): Promise<{ reproduced: boolean; cases: number[]; alone: boolean; verdict?: Verdict; console: string[] }> {
    this.options.print(`  bisecting cases ${batch[0]!.index}-${batch[batch.length - 1]!.index} on fresh boards`);
    const full = await this.tryOnFresh(batch);
    if (!full.verdict) {
      // Not the batch alone: the state earlier batches left (a fuller, more fragmented heap) is part of it.
      // The case that was running when it happened may still do it alone.
      const last = await this.tryOnFresh([batch[batch.length - 1]!]);
      if (last.verdict) return { reproduced: true, cases: [batch[batch.length - 1]!.index], alone: true, verdict: last.verdict, console: last.console };
      return { reproduced: false, cases: batch.map((r) => r.index), alone: false, console: full.console };
    }
    let lo = 0;
    let hi = batch.length - 1;
    let best = full;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = await this.tryOnFresh(batch.slice(0, mid + 1));
      if (r.verdict) {
        hi = mid;
        best = r;
      } else {
        lo = mid + 1;
      }
    }
    const single = hi === 0 ? best : await this.tryOnFresh([batch[hi]!]);
    if (single.verdict) return { reproduced: true, cases: [batch[hi]!.index], alone: true, verdict: single.verdict, console: single.console };
    return { reproduced: true, cases: batch.slice(0, hi + 1).map((r) => r.index), alone: false, verdict: best.verdict, console: best.console };
  }
}

/** The board's console from `mark` on: around the boot end if there is one, else its tail. */
export function consoleAround(board: FuzzBoard, mark: BoardMark): string[] {
  const text = board.log.since(Math.max(0, mark.console));
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const end = lines.findIndex((l) => l.startsWith("[fuzz] boot ") || l.startsWith("[vboard] "));
  if (end >= 0) return lines.slice(Math.max(0, end - 30), end + 12);
  return lines.slice(-40);
}
