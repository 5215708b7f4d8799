// The picture of a figure's history, bench/results/<name>.svg: its ratio run
// by run (labelled with the commit), the limit's line at 1 and the goal's
// line where there is one. Vega-Lite describes it, Vega renders it to SVG
// with no browser or canvas.

import { View, parse } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { parseGoal } from "./goal.ts";
import type { FigureHistory } from "./history.ts";

const LIMIT_COLOUR = "#d62728";
const GOAL_COLOUR = "#2ca02c";

function subtitle(h: FigureHistory): string[] {
  const first = h.history[0]?.date.slice(0, 10);
  const last = h.history.at(-1)?.date.slice(0, 10);
  return [
    `ratio: value in ${h.unit} over ${h.limitName}; ${h.better} is better${h.goal === undefined ? "" : `; goal ${h.goal}`}`,
    `${h.history.length} run${h.history.length === 1 ? "" : "s"}, ${first === last ? first : `${first} to ${last}`}`,
  ];
}

export function plotSpec(h: FigureHistory): TopLevelSpec {
  const runs = h.history.map((e, i) => ({ run: `${i + 1} ${e.commit}`, ratio: e.ratio }));
  // Solid limit, dashed goal: a goal at the limit still shows both.
  const lines = [{ y: 1, label: `limit (${h.limitName})`, colour: LIMIT_COLOUR, dash: [1, 0] }];
  if (h.goal !== undefined) lines.push({ y: parseGoal(h.goal).threshold, label: `goal ${h.goal}`, colour: GOAL_COLOUR, dash: [6, 4] });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: h.name, subtitle: subtitle(h) },
    width: 640,
    height: 240,
    layer: [
      {
        data: { values: runs },
        mark: { type: "line", point: true },
        encoding: {
          // sort: null keeps the runs in the order they were made.
          x: { field: "run", type: "ordinal", sort: null, title: "run and commit", axis: { labelAngle: -45, labelOverlap: "greedy" } },
          y: { field: "ratio", type: "quantitative", title: "ratio" },
        },
      },
      {
        data: { values: lines },
        mark: { type: "rule" },
        encoding: {
          y: { field: "y", type: "quantitative" },
          color: {
            field: "label",
            type: "nominal",
            title: null,
            scale: { domain: lines.map((l) => l.label), range: lines.map((l) => l.colour) },
            // Limit names are long: the default cuts them at 160 pixels.
            legend: { orient: "bottom", labelLimit: 600 },
          },
          // The same field as color: one legend shows both.
          strokeDash: { field: "label", type: "nominal", scale: { domain: lines.map((l) => l.label), range: lines.map((l) => l.dash) } },
        },
      },
    ],
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
