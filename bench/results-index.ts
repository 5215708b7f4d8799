// bench/results/README.md: every figure with a history, its latest run and a
// link to its plot, so the results folder reads on its own (the other files
// there, power-cut.json and the fuzzers' reports, are written by other tools).

import type { FigureHistory } from "./history.ts";
import { latestCells } from "./report.ts";

const escapeCell = (s: string) => s.replaceAll("|", "\\|");

export function resultsIndex(histories: readonly FigureHistory[]): string {
  const rows = histories.flatMap((h) => {
    const cells = latestCells(h);
    const last = h.history.at(-1);
    if (!cells || !last) return [];
    const [name, value, limit, ratio, goal, met] = cells.map(escapeCell);
    return [`| [${name}](${h.name}.json) | ${value} | ${limit} | ${ratio} | ${goal} ${met} | ${last.date.slice(0, 10)} ${last.commit} | ${h.history.length} | [plot](${h.name}.svg) |`];
  });
  return [
    "# Benchmark results",
    "",
    "Written by `make bench` (bench/run.ts); do not edit. Each figure's history is in `<name>.json`,",
    "the plot of its ratio run by run in `<name>.svg`. The latest run of each:",
    "",
    "| figure | value | limit | ratio | goal | run | runs | plot |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
