// One line per figure, aligned like a table:
//
//   heap-pull-64bit  236232 B  of 327680 B (ESP32 DRAM budget)  ratio 0.721  goal < 1  met

import type { Figure } from "./figure.ts";
import { goalMet } from "./goal.ts";
import type { FigureHistory } from "./history.ts";

/** Large numbers in whole units, small ones to 3 significant digits: what a reader compares. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) || Math.abs(n) >= 100) return String(Math.round(n));
  return String(Number(n.toPrecision(3)));
}

function goalCells(goal: string | undefined, ratio: number): [string, string] {
  if (goal === undefined) return ["no goal", ""];
  return [`goal ${goal}`, goalMet(goal, ratio) ? "met" : "NOT MET"];
}

/** The cells of a figure's line: name, value, limit, ratio, goal, whether it is met. */
export function figureCells(f: Pick<Figure, "name" | "value" | "unit" | "limit" | "limitName" | "ratio" | "goal">): string[] {
  return [f.name, `${formatNumber(f.value)} ${f.unit}`, `of ${formatNumber(f.limit)} ${f.unit} (${f.limitName})`, `ratio ${f.ratio.toFixed(3)}`, ...goalCells(f.goal, f.ratio)];
}

/** The cells of a results file's latest run, or undefined when it has none. */
export function latestCells(h: FigureHistory): string[] | undefined {
  const last = h.history.at(-1);
  return last && figureCells({ ...h, ...last });
}

/** Rows of cells as lines, each column as wide as its widest cell. */
export function alignRows(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
}
