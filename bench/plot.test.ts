import assert from "node:assert/strict";
import type { FigureHistory } from "./history.ts";
import { plotSpec, renderSvg } from "./plot.ts";

const history = (goal?: string): FigureHistory => ({
  name: "uart-ota-115200",
  unit: "B/s",
  limitName: "framing limit of 115200 baud 8N1",
  better: "higher",
  goal,
  history: [0.61, 0.74, 0.93].map((ratio, i) => ({ date: `2026-12-0${i + 1}T10:00:00.000Z`, commit: `c0ffee${i}`, value: ratio * 11520, limit: 11520, ratio })),
});

/** The SVG's text, without markup: what a reader of the picture sees. */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe("bench plot", () => {
  it("renders a figure's history to an SVG with its runs, the limit and the goal", async () => {
    const svg = await renderSvg(plotSpec(history(">= 0.9")));
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const seen = texts(svg);
    for (const label of ["uart-ota-115200", "1 c0ffee0", "2 c0ffee1", "3 c0ffee2", "limit (framing limit of 115200 baud 8N1)", "goal &gt;= 0.9"]) {
      assert.ok(seen.includes(label), `"${label}" not among the SVG's texts: ${seen.join(" | ")}`);
    }
    // One point per run, carrying its run and ratio.
    const points = [...svg.matchAll(/aria-label="([^"]*)"[^>]*aria-roledescription="point"/g)].map((m) => m[1]);
    assert.deepEqual(points, ["run and commit: 1 c0ffee0; ratio: 0.61", "run and commit: 2 c0ffee1; ratio: 0.74", "run and commit: 3 c0ffee2; ratio: 0.93"]);
  });

  it("draws no goal line for a figure without a goal", async () => {
    const seen = texts(await renderSvg(plotSpec(history())));
    assert.ok(seen.includes("limit (framing limit of 115200 baud 8N1)"));
    assert.ok(!seen.some((t) => t.startsWith("goal")), seen.join(" | "));
  });
});
