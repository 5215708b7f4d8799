import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Figure } from "./figure.ts";
import { appendRun, currentCommit, readHistory, writeHistory, type FigureHistory } from "./history.ts";

const figure = (value: number, goal?: string): Figure => ({
  name: "heap-pull-64bit",
  value,
  unit: "B",
  limit: 1000,
  limitName: "budget",
  ratio: value / 1000,
  better: "lower",
  goal,
  detail: { package_bytes: 1500 },
});
const stamp = (n: number) => ({ date: `2026-12-0${n}T00:00:00.000Z`, commit: `c${n}` });

describe("bench history", () => {
  it("starts a history with the figure's run and what the figure is", () => {
    const h = appendRun(undefined, figure(600, "< 1"), stamp(1));
    assert.deepEqual(h, {
      name: "heap-pull-64bit",
      unit: "B",
      limitName: "budget",
      better: "lower",
      goal: "< 1",
      history: [{ date: "2026-12-01T00:00:00.000Z", commit: "c1", value: 600, limit: 1000, ratio: 0.6, detail: { package_bytes: 1500 } }],
    });
  });

  it("appends runs oldest first and keeps only the last ones", () => {
    let h: FigureHistory | undefined;
    for (let n = 1; n <= 5; n++) h = appendRun(h, figure(100 * n), stamp(n), 3);
    assert.deepEqual(
      h!.history.map((e) => [e.commit, e.value]),
      [
        ["c3", 300],
        ["c4", 400],
        ["c5", 500],
      ],
    );
  });

  it("takes the goal from the newest run", () => {
    const h = appendRun(appendRun(undefined, figure(600, "< 1"), stamp(1)), figure(600, "<= 0.8"), stamp(2));
    assert.equal(h.goal, "<= 0.8");
  });

  describe("on disk", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-history-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads back what it wrote, and nothing for a missing file", () => {
      const file = path.join(dir, "f.json");
      assert.equal(readHistory(file), undefined);
      const h = appendRun(undefined, figure(600), stamp(1));
      writeHistory(file, h);
      assert.deepEqual(readHistory(file), JSON.parse(JSON.stringify(h)));
      assert.deepEqual(fs.readdirSync(dir), ["f.json"]);
    });

    it("starts anew over a record of the runner before histories", () => {
      const file = path.join(dir, "uart-ota.json");
      fs.writeFileSync(file, JSON.stringify({ name: "uart-ota", date: "2026-12-06T00:12:49.770Z", ratio: 7.4 }));
      assert.equal(readHistory(file), undefined);
    });

    it("stamps the commit, dirty for source changes but not for results", () => {
      const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir, encoding: "utf8" }).trim();
      git("init", "-q");
      fs.mkdirSync(path.join(dir, "bench/results"), { recursive: true });
      fs.writeFileSync(path.join(dir, "main.ts"), "1");
      fs.writeFileSync(path.join(dir, "bench/results/a.json"), "{}");
      git("add", ".");
      git("commit", "-q", "-m", "x");
      const hash = git("rev-parse", "--short", "HEAD");
      fs.writeFileSync(path.join(dir, "bench/results/a.json"), "{ }");
      assert.equal(currentCommit(dir), hash);
      fs.writeFileSync(path.join(dir, "main.ts"), "2");
      assert.equal(currentCommit(dir), `${hash}+dirty`);
    });
  });
});
