import assert from "node:assert/strict";
import type { Figure } from "./figure.ts";
import { goalMet, parseGoal } from "./goal.ts";
import { alignRows, figureCells, formatNumber } from "./report.ts";
import { resultsIndex } from "./results-index.ts";

const figure = (name: string, value: number, goal?: string): Figure => ({
  name,
  value,
  unit: "B",
  limit: 327680,
  limitName: "ESP32 DRAM budget, 320 KiB",
  ratio: value / 327680,
  better: "lower",
  goal,
});

describe("bench report", () => {
  it("writes large numbers whole and small ones to 3 digits", () => {
    assert.equal(formatNumber(236232), "236232");
    assert.equal(formatNumber(85207.88), "85208");
    assert.equal(formatNumber(0.72097), "0.721");
    assert.equal(formatNumber(11520), "11520");
  });

  it("puts name, value, limit, ratio and the goal's verdict in a figure's line", () => {
    assert.deepEqual(figureCells(figure("heap-pull-64bit", 236232, "< 1")), [
      "heap-pull-64bit",
      "236232 B",
      "of 327680 B (ESP32 DRAM budget, 320 KiB)",
      "ratio 0.721",
      "goal < 1",
      "met",
    ]);
    assert.deepEqual(figureCells(figure("big", 400000, "< 1")).slice(-2), ["goal < 1", "NOT MET"]);
    assert.deepEqual(figureCells(figure("free", 1000)).slice(-2), ["no goal", ""]);
  });

  it("aligns every column across lines", () => {
    const lines = alignRows([figureCells(figure("heap-idle-64bit", 211096, "< 1")), figureCells(figure("x", 9, ">= 0.5"))]);
    for (const column of ["ratio ", "goal "]) {
      const at = lines.map((l) => l.indexOf(column));
      assert.ok(at[0]! > 0);
      assert.equal(at[1], at[0], `"${column}" at the same column in:\n${lines.join("\n")}`);
    }
  });

  it("compares the ratio with the goal's threshold", () => {
    assert.deepEqual(parseGoal(">= 0.9"), { op: ">=", threshold: 0.9 });
    assert.equal(goalMet(">= 0.9", 0.9), true);
    assert.equal(goalMet("> 0.9", 0.9), false);
    assert.equal(goalMet("<= 1.1", 1.2), false);
    assert.equal(goalMet("< 1", 0.72), true);
    assert.throws(() => parseGoal("about 1"), /comparison with a number/);
  });

  it("indexes each figure's latest run with links to its history and plot", () => {
    const history = [
      { date: "2026-12-05T00:00:00.000Z", commit: "aaaaaaa", value: 200000, limit: 327680, ratio: 200000 / 327680 },
      { date: "2026-12-06T00:00:00.000Z", commit: "bbbbbbb", value: 236232, limit: 327680, ratio: 236232 / 327680 },
    ];
    const index = resultsIndex([{ name: "heap-pull-64bit", unit: "B", limitName: "ESP32 DRAM budget, 320 KiB", better: "lower", goal: "< 1", history }]);
    const row = index.split("\n").find((l) => l.startsWith("| [heap-pull-64bit]"));
    assert.equal(row, "| [heap-pull-64bit](heap-pull-64bit.json) | 236232 B | of 327680 B (ESP32 DRAM budget, 320 KiB) | ratio 0.721 | goal < 1 met | 2026-12-06 bbbbbbb | 2 | [plot](heap-pull-64bit.svg) |");
  });
});
