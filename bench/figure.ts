// What every benchmark reports: one figure against the limit it is measured
// by, both taken in the same run, so that a noisy machine moves both sides.
// bench/run.ts prints each as one line (name, value, limit, ratio), keeps it
// in bench/results/<file>.json with its history, and plots that history.

export interface Figure {
  /** Stable identifier, also the results file and the plot's name: "uart-ota-115200". */
  readonly name: string;
  /** What was measured, in `unit`. */
  readonly value: number;
  readonly unit: string;
  /** The limit the value is measured against, in the same unit, from the same run where it is measured. */
  readonly limit: number;
  /** What the limit is: "framing limit of 115200 baud 8N1". */
  readonly limitName: string;
  /** value / limit (or limit / value where smaller is better: `better` says which way is good). */
  readonly ratio: number;
  /** Which way a ratio is good: "higher" (throughput over its limit) or "lower" (time or memory over its limit). */
  readonly better: "higher" | "lower";
  /** The target for the ratio, when there is one: ">= 0.9", "<= 1.1". */
  readonly goal?: string;
  /** Everything else worth keeping: breakdowns, the anchor's own figures, sizes. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** One benchmark: bench/run.ts runs each in turn and collects its figures. */
export interface Benchmark {
  readonly title: string;
  run(): Promise<Figure[]>;
}
