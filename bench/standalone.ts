// Running one benchmark module on its own (npx tsx --tsconfig tsconfig.json
// bench/<module>.ts): its figures printed one a line and each kept in
// bench/results/<figure name>.json, as bench/run.ts keeps them.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Benchmark, Figure } from "./figure.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));

/** Whether the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl;
}

export function printFigure(figure: Figure): void {
  const goal = figure.goal ? `, goal ${figure.goal}` : "";
  console.log(`${figure.name}  ${figure.ratio.toFixed(3)}  (${figure.value.toPrecision(5)} ${figure.unit} over ${figure.limit.toPrecision(5)} ${figure.unit}: ${figure.limitName}; ${figure.better} is better${goal})`);
  if (figure.detail) console.log(JSON.stringify(figure.detail, null, 2));
}

export async function runStandalone(benchmark: Benchmark): Promise<void> {
  console.log(benchmark.title);
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const figure of await benchmark.run()) {
    printFigure(figure);
    fs.writeFileSync(path.join(RESULTS, `${figure.name}.json`), JSON.stringify({ date: new Date().toISOString(), ...figure }, null, 2) + "\n");
  }
}
