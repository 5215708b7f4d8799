// What happens when the board program cannot run, or the firmware cannot
// stay up: one line that says why (and what to do), never silence or a
// boot loop at full speed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, buildBoardProgram, checkBoardProgram, writeFactoryFlash } from "./assets.ts";
import { FAULTY_MAIN, buildFirmwarePackage } from "./firmware-package.ts";
import { VirtualBoard, type BootEnd } from "./supervisor.ts";

const PROBE = path.join(REPO_ROOT, "host/vboard/probe-bits.sh");
const RUN_TAP = path.join(REPO_ROOT, "host/vboard/idf/tests/run-tap.sh");

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-boot-program-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An executable with a 32-bit ELF header that no kernel runs: what a 32-bit program is where IA-32 is off. */
function unrunnable32(file: string): string {
  fs.writeFileSync(file, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]), Buffer.alloc(56, 0xee)]));
  fs.chmodSync(file, 0o755);
  return file;
}

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

describe("probe-bits.sh decides by running a 32-bit program", () => {
  const probe = (cc: string) => spawnSync(PROBE, ["--explain"], { encoding: "utf8", env: { ...process.env, CC: cc } }).stdout.trim();

  it("answers 64 with the OS error when the 32-bit program builds but does not run", () => {
    // A compiler that "succeeds" with an output the kernel refuses, as on a kernel without IA-32 support.
    const cc = script("cc-no-ia32", `while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\ncat "${unrunnable32(path.join(dir, "elf32"))}" > "$out"; chmod +x "$out"`);
    assert.equal(probe(cc), "64 this kernel cannot run 32-bit programs (Exec format error)");
  });

  it("answers 64 when the compiler cannot build 32-bit programs", () => {
    assert.match(probe(script("cc-no-multilib", "exit 1")), /^64 .* cannot build 32-bit programs \(Debian: apt-get install gcc-multilib\)$/);
  });

  it("answers 32 only after a 32-bit program printed its pointer size", () => {
    const cc = script("cc-fake-ok", `while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\nprintf '#!/bin/sh\\necho 32\\n' > "$out"; chmod +x "$out"`);
    assert.equal(probe(cc), "32 this machine runs 32-bit programs");
    const liar = script("cc-liar", `while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\nprintf '#!/bin/sh\\necho 64\\n' > "$out"; chmod +x "$out"`);
    assert.match(probe(liar), /^64 this kernel cannot run 32-bit programs/);
  });
});

describe("run-tap.sh, the C tests' summary", () => {
  const runTap = (...bins: string[]) => spawnSync(RUN_TAP, ["idf-test", ...bins], { encoding: "utf8", cwd: dir });

  it("counts a binary that cannot start as failed, never as 0 failed", () => {
    const r = runTap(unrunnable32(path.join(dir, "idf_test32")));
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /did not finish \(exit 126, plan missing, 0 ok, 0 not ok\): .*Exec format error/);
    assert.match(r.stdout, /\nidf-test: 0 passed, 1 failed\n$/);
  });

  it("counts the tests a crash cut off as failed", () => {
    const crash = script("crash", 'echo "ok 1 - a"\necho "ok 2 - b"\nkill -SEGV $$');
    const good = script("good", 'echo "ok 1 - a"\necho "1..1"');
    const r = runTap(good, crash);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /\nidf-test: 3 passed, 1 failed\n$/);
  });

  it("sums binaries that ran their whole plan", () => {
    const r = runTap(script("one", 'echo "ok 1 - a"\necho "not ok 2 - b"\necho "1..2"\nexit 1'), script("two", 'echo "ok 1 - a"\necho "1..1"'));
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /\nidf-test: 2 passed, 1 failed\n$/);
    assert.doesNotMatch(r.stdout, /did not finish/);
  });
});

describe("a board program that cannot start", () => {
  it("is refused in one line naming the OS error and the fix", () => {
    const binary = unrunnable32(path.join(dir, "vboard"));
    assert.throws(
      () => checkBoardProgram(binary),
      new Error(`the virtual board cannot start: ${binary}: Exec format error; this kernel cannot run 32-bit programs: build the 64-bit board with VBOARD_BITS=64 (or unset VBOARD_BITS: make picks by itself)`),
    );
    const missing = path.join(dir, "none");
    assert.throws(() => checkBoardProgram(missing), new Error(`the virtual board cannot start: ${missing}: No such file or directory; build it: make build`));
  });

  it("stops VirtualBoard.start before it opens anything", async () => {
    const board = new VirtualBoard({ binary: unrunnable32(path.join(dir, "vboard")), flashPath: path.join(dir, "flash.bin"), httpPort: 0, uartLink: path.join(dir, "uart"), clock: "real" });
    await assert.rejects(board.start(), /cannot start: .*Exec format error/);
    assert.equal(fs.existsSync(path.join(dir, "uart")), false);
  });

  it("names itself when it can", () => {
    assert.match(checkBoardProgram(buildBoardProgram()), /^vboard (32|64)-bit: XS 13\.3\.0, emulated ESP-IDF v5\.5\.1$/);
  });
});

describe("a firmware that panics at every boot", function () {
  this.timeout(60_000);

  it("is shown with its panic and rebooted with a growing pause, not thousands of times a second", async () => {
    const crash = await buildFirmwarePackage({ version: "9.9.9-crash", firmwareOverride: [["main", FAULTY_MAIN["crash-at-start"]]] });
    writeFactoryFlash(path.join(dir, "flash.bin"), crash.app);
    const board = new VirtualBoard({ binary: buildBoardProgram(), flashPath: path.join(dir, "flash.bin"), httpPort: 0, uartLink: path.join(dir, "uart"), clock: "real" });
    const ends: BootEnd[] = [];
    board.on("boot-end", (end) => ends.push(end));
    await board.start();
    await new Promise((r) => setTimeout(r, 3000));
    await board.stop();
    // Pauses of 0, 0.25, 0.5, 1 and 2 s: five or six boots in three seconds.
    assert.ok(ends.length >= 4 && ends.length <= 7, `${ends.length} boots in 3 s`);
    for (const end of ends.slice(0, 4)) {
      assert.equal(end.meaning, "firmware panic");
      assert.equal(end.reason, "Guru Meditation: uncaught exception: Error: xs-ota test firmware: crash at start");
    }
    assert.deepEqual(ends.slice(0, 4).map((e) => e.nextBootMs), [0, 250, 500, 1000]);
  });
});
