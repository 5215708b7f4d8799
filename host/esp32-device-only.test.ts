// The code that runs only on hardware is what CI cannot run: it must stay the
// thin adapters, listed with their sizes in docs/esp32.md, and the list must
// be true.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const GOAL_LINES = 300;

/** The TypeScript modules manifest.json maps for the ESP32 only. */
function deviceOnlyModules(): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "manifest.json"), "utf8"));
  const own = Object.values(manifest.platforms.esp32.modules as Record<string, string | string[]>)
    .flat()
    .filter((p) => p.startsWith("./modules/esp32/"));
  return own.map((p) => `${p.slice(2)}.ts`).filter((f) => fs.existsSync(path.join(ROOT, f))).sort();
}

function lineCount(file: string): number {
  return fs.readFileSync(path.join(ROOT, file), "utf8").split("\n").length - 1;
}

describe("device-only code (docs/esp32.md)", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/esp32.md"), "utf8");
  const rows = [...doc.matchAll(/^\| `(modules\/esp32\/[\w-]+\.ts)` \| (\d+) \|/gm)].map((m) => ({ file: m[1]!, lines: Number(m[2]) }));

  it("lists every module only the ESP32 build maps, and nothing else", () => {
    assert.deepEqual(rows.map((r) => r.file).sort(), deviceOnlyModules());
  });

  it("gives each one's true line count and the true total, within the goal", () => {
    for (const { file, lines } of rows) assert.equal(lines, lineCount(file), file);
    const total = rows.reduce((sum, r) => sum + r.lines, 0);
    assert.match(doc, new RegExp(`^\\| total \\| ${total} \\|`, "m"));
    assert.ok(total <= GOAL_LINES, `${total} lines run only on hardware`);
  });
});
