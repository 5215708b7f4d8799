// The HIL harness's own pieces: the rig inventory, board selection, locks.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { tryLock } from "../hil-tests/lock.ts";
import { candidates, loadRig, RigError } from "../hil-tests/rig.ts";

function rigFile(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-rig-")), "rig.yaml");
  fs.writeFileSync(file, text);
  return file;
}

describe("HIL rig inventory", () => {
  it("reads boards/rig.yaml with defaults", () => {
    const rig = loadRig(path.resolve("boards/rig.yaml"));
    assert.deepEqual(rig.map((b) => [b.id, b.target, b.baud, b.reset]), [
      ["virtual", "virtual", 115200, "none"],
      ["devkitc-1", "esp32", 115200, "rts"],
    ]);
  });
  it("names the board and the field of each mistake", () => {
    const cases: Array<[string, RegExp]> = [
      ["boards: 3", /expected a "boards" list/],
      ["boards:\n  - target: esp32\n", /board #1: "id" is required/],
      ["boards:\n  - {id: a, target: esp32}\n", /board "a": a real board needs "port"/],
      ["boards:\n  - {id: a, target: esp99}\n", /board "a": "target" must be one of/],
      ["boards:\n  - {id: a, target: virtual}\n  - {id: a, target: virtual}\n", /board "a": duplicate id/],
      ["boards:\n  - {id: a, target: virtual, power: {off: x}}\n", /"power" needs "off" and "on"/],
      ["boards:\n  - {id: a, target: esp32, port: /dev/x, reset: dtr}\n", /"reset" must be rts or none/],
    ];
    for (const [text, message] of cases) assert.throws(() => loadRig(rigFile(text)), (e: unknown) => e instanceof RigError && message.test(e.message), text);
  });
  it("selects by id, by tags (all of them), or the virtual board", () => {
    const rig = loadRig(rigFile("boards:\n  - {id: v, target: virtual, tags: [virtual]}\n  - {id: a, target: esp32, port: /dev/a, tags: [esp32, wroom]}\n  - {id: b, target: esp32, port: /dev/b, tags: [esp32]}\n"));
    assert.deepEqual(candidates(rig, "b", []).map((b) => b.id), ["b"]);
    assert.deepEqual(candidates(rig, undefined, ["esp32"]).map((b) => b.id), ["a", "b"]);
    assert.deepEqual(candidates(rig, undefined, ["esp32", "wroom"]).map((b) => b.id), ["a"]);
    assert.deepEqual(candidates(rig, undefined, []).map((b) => b.id), ["v"]);
    assert.throws(() => candidates(rig, "zz", []), /no board "zz" in the rig; it has: v, a, b/);
    assert.throws(() => candidates(rig, undefined, ["c3"]), /no board carries the tags c3/);
  });
});

describe("HIL board locks", () => {
  it("lets one run hold a board, and takes over a lock whose holder is gone", async () => {
    const id = `test-${process.pid}-${Date.now()}`;
    const lock = tryLock(id)!;
    assert.ok(lock);
    assert.equal(tryLock(id), undefined);
    lock.release();
    // A holder that died without releasing: its pid no longer runs.
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((r) => dead.on("exit", r));
    fs.writeFileSync(lock.file, String(dead.pid));
    const again = tryLock(id);
    assert.ok(again, "a stale lock is taken over");
    again.release();
  });
});
