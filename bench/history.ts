// Each figure's results file, bench/results/<name>.json: what the figure is
// (unit, limit, which way is better, goal) and its runs, oldest first, so the
// history of a figure shows progress commit by commit. Bounded: the plot of
// the last runs is what is read; older runs stay in git.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Figure } from "./figure.ts";

/** How many runs a results file keeps. */
export const HISTORY_LENGTH = 200;

/** Where and when a run was measured. */
export interface RunStamp {
  /** ISO 8601. */
  readonly date: string;
  /** Short commit hash, "+dirty" when the tree had changes outside bench/results. */
  readonly commit: string;
}

export interface HistoryEntry extends RunStamp {
  readonly value: number;
  readonly limit: number;
  readonly ratio: number;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface FigureHistory {
  readonly name: string;
  readonly unit: string;
  readonly limitName: string;
  readonly better: Figure["better"];
  readonly goal?: string;
  readonly history: readonly HistoryEntry[];
}

/**
 * The history with this run's figure appended, at most `keep` runs long. What
 * the figure is (unit, limit name, goal) comes from the newest run: a goal
 * tightened by the issue applies from then on.
 */
export function appendRun(previous: FigureHistory | undefined, figure: Figure, stamp: RunStamp, keep = HISTORY_LENGTH): FigureHistory {
  const entry: HistoryEntry = { ...stamp, value: figure.value, limit: figure.limit, ratio: figure.ratio, detail: figure.detail };
  const history = [...(previous?.history ?? []), entry].slice(-keep);
  return { name: figure.name, unit: figure.unit, limitName: figure.limitName, better: figure.better, goal: figure.goal, history };
}

export function readHistory(file: string): FigureHistory | undefined {
  if (!fs.existsSync(file)) return undefined;
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<FigureHistory>;
  // A record of the runner before histories (one run, other fields) starts a new history.
  return Array.isArray(parsed.history) ? (parsed as FigureHistory) : undefined;
}

/** Written through a temporary file: an interrupted run leaves the old history whole. */
export function writeHistory(file: string, history: FigureHistory): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(history, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

/** Append `figure` to the history kept in `dir`/<figure name>.json. */
export function recordFigure(dir: string, figure: Figure, stamp: RunStamp): void {
  const file = path.join(dir, `${figure.name}.json`);
  writeHistory(file, appendRun(readHistory(file), figure, stamp));
}

/** The commit being measured; results files do not make it dirty, since running the bench changes them. */
export function currentCommit(cwd: string): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
  const hash = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", ".", ":(exclude)bench/results") !== "";
  return dirty ? `${hash}+dirty` : hash;
}
