// make bench: runs each benchmark in turn, prints one line per figure (value,
// limit, ratio, goal), appends every figure to its history in
// bench/results/<name>.json, then plots every history there in <name>.svg
// (those of figures this machine did not run too, such as the 32-bit
// build's) and indexes them in bench/results/README.md. A benchmark that
// fails is reported and the others still run; the exit code says so.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Benchmark } from "./figure.ts";
import { flashBound } from "./flash-bound.ts";
import { heap } from "./heap.ts";
import { currentCommit, readHistory, recordFigure, type FigureHistory, type RunStamp } from "./history.ts";
import { plotSpec, renderSvg } from "./plot.ts";
import { alignRows, figureCells } from "./report.ts";
import { resultsIndex } from "./results-index.ts";
import { rpcLatency } from "./rpc-latency.ts";
import { uartOta } from "./uart-ota.ts";
import { workPerByte } from "./work-per-byte.ts";

/** The benchmarks, in the order they run: add a module's Benchmark here. */
const BENCHMARKS: readonly Benchmark[] = [uartOta, rpcLatency, flashBound, heap, workPerByte];

const REPO = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = path.join(REPO, "bench/results");

/** Every results file that holds a figure's history, this run's or an earlier one's. */
function allHistories(): FigureHistory[] {
  return fs
    .readdirSync(RESULTS)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .flatMap((f) => readHistory(path.join(RESULTS, f)) ?? []);
}

async function publish(histories: readonly FigureHistory[]): Promise<void> {
  for (const h of histories) fs.writeFileSync(path.join(RESULTS, `${h.name}.svg`), await renderSvg(plotSpec(h)));
  fs.writeFileSync(path.join(RESULTS, "README.md"), resultsIndex(histories));
}

async function main(): Promise<void> {
  fs.mkdirSync(RESULTS, { recursive: true });
  // One stamp for the whole run: its figures are found together in every history.
  const stamp: RunStamp = { date: new Date().toISOString(), commit: currentCommit(REPO) };
  const rows: string[][] = [];
  const failed: string[] = [];
  for (const benchmark of BENCHMARKS) {
    console.log(`${benchmark.title} ...`);
    const started = Date.now();
    try {
      const figures = await benchmark.run();
      for (const figure of figures) recordFigure(RESULTS, figure, stamp);
      rows.push(...figures.map(figureCells));
      console.log(`  ${figures.length} figures in ${Math.round((Date.now() - started) / 1000)} s`);
    } catch (e) {
      failed.push(benchmark.title);
      console.error(`  failed: ${(e as Error).stack ?? e}`);
    }
  }
  console.log(`\nfigures at ${stamp.commit} (history and plots in bench/results/):`);
  for (const line of alignRows(rows)) console.log(line);
  await publish(allHistories());
  if (failed.length > 0) {
    console.error(`\n${failed.length} benchmark(s) failed: ${failed.join("; ")}`);
    process.exitCode = 1;
  }
}

await main();
