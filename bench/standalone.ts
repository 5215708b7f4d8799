// Running one benchmark module on its own (npx tsx --tsconfig tsconfig.json
// bench/<module>.ts): its figures printed one a line and each kept in
// bench/results/<figure name>.json, as bench/run.ts keeps them.

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Benchmark } from "./figure.ts";
import { currentCommit, recordFigure } from "./history.ts";
import { alignRows, figureCells } from "./report.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = path.join(REPO, "bench/results");

/** Whether the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl;
}

/** One benchmark's figures, printed as make bench prints them and appended to their histories (plots: make bench). */
export async function runStandalone(benchmark: Benchmark): Promise<void> {
  console.log(benchmark.title);
  const stamp = { date: new Date().toISOString(), commit: currentCommit(REPO) };
  const figures = await benchmark.run();
  for (const figure of figures) {
    recordFigure(RESULTS, figure, stamp);
    if (figure.detail) console.log(`${figure.name}: ${JSON.stringify(figure.detail)}`);
  }
  for (const line of alignRows(figures.map(figureCells))) console.log(line);
}
