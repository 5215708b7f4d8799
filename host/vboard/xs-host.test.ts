// The XS host of the virtual board (host/vboard/xs/), tested through the
// real program: build/vboard/<bits>/vboard --modules ARCHIVE, with real pipes
// on fd 0/1/2 (UART, diagnostics) and fd 3/4 (supervisor link), once for
// each build this machine runs (64-bit always, 32-bit where it can).
// Fixtures: host/vboard/xs/tests/<case>/*.js, packed by make-archive.mjs.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildBoardProgram, runnableBits } from "./assets.ts";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "xs", "tests");
const PANIC = 6;

let work: string;
/** The board program of the build under test. */
let vboard: string;

function archive(fixture: string): string {
  const output = join(work, `${fixture}.bin`);
  execFileSync(process.execPath, [join(fixtures, "make-archive.mjs"), join(fixtures, fixture), output]);
  return output;
}

interface LinkMessage {
  json: Record<string, unknown>;
  bin: Buffer;
}

interface Board {
  child: ChildProcess;
  uartRx: Writable;
  linkIn: Writable;
  linkOut: Readable;
  /** UART TX so far */
  stdout(): string;
  /** resolves when the UART TX contains text */
  waitForOutput(text: string): Promise<void>;
  /** link messages received so far, and a wait for the next one */
  nextMessage(): Promise<LinkMessage>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(fixture: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Board {
  const child = spawn(vboard, ["--modules", archive(fixture), ...args], {
    stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  const outputWaiters: Array<() => void> = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    outputWaiters.splice(0).forEach((wake) => wake());
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const linkOut = child.stdio[4] as Readable;
  const messages: LinkMessage[] = [];
  const messageWaiters: Array<() => void> = [];
  let pending = Buffer.alloc(0);
  linkOut.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const jsonLength = pending.readUInt32LE(0);
      const binLength = pending.readUInt32LE(4);
      if (pending.length < 8 + jsonLength + binLength) break;
      const json = JSON.parse(pending.subarray(8, 8 + jsonLength).toString("utf8"));
      const bin = Buffer.from(pending.subarray(8 + jsonLength, 8 + jsonLength + binLength));
      pending = pending.subarray(8 + jsonLength + binLength);
      messages.push({ json, bin });
      messageWaiters.splice(0).forEach((wake) => wake());
    }
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  for (const stream of [child.stdin!, child.stdio[3] as Writable]) stream.on("error", () => {});
  return {
    child,
    uartRx: child.stdin!,
    linkIn: child.stdio[3] as Writable,
    linkOut,
    stdout: () => stdout,
    waitForOutput: async (text) => {
      while (!stdout.includes(text)) {
        if (child.exitCode !== null) throw new Error(`board exited without printing ${JSON.stringify(text)}:\n${stdout}${stderr}`);
        await new Promise<void>((wake) => outputWaiters.push(wake));
      }
    },
    nextMessage: async () => {
      while (messages.length === 0) await new Promise<void>((wake) => messageWaiters.push(wake));
      return messages.shift()!;
    },
    exit,
  };
}

/** Runs a fixture with nothing on its input streams (they are closed at once). */
async function run(fixture: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const board = start(fixture, args, env);
  board.uartRx.end();
  board.linkIn.end();
  return board.exit;
}

function frame(json: unknown, bin: Buffer = Buffer.alloc(0)): Buffer {
  const text = Buffer.from(JSON.stringify(json), "utf8");
  const header = Buffer.alloc(8);
  header.writeUInt32LE(text.length, 0);
  header.writeUInt32LE(bin.length, 4);
  return Buffer.concat([header, text, bin]);
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

for (const bits of runnableBits()) describe(`virtual board XS host (${bits}-bit)`, function () {
  before(function () {
    this.timeout(120_000);
    vboard = buildBoardProgram(bits);
    work = mkdtempSync(join(tmpdir(), "vboard-xs-"));
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  describe("modules", () => {
    it("resolves bare specifiers by name and relative ones against the importer", async () => {
      const { code, stdout } = await run("graph");
      assert.equal(stdout, "hello, board\ntimer function\n");
      assert.equal(code, 0);
    });

    it("panics (exit 6) on a missing import, naming it and its importer on the UART", async () => {
      const { code, stdout, stderr } = await run("missing-import");
      assert.equal(code, PANIC);
      const message = 'Guru Meditation: uncaught exception: ReferenceError: module "lib/not-there" not found, imported by "main"';
      assert.ok(stdout.includes(message), stdout);
      assert.ok(stderr.includes(message), stderr);
    });

    it("panics on a module that throws while evaluated, with the XS stack", async () => {
      const { code, stdout } = await run("throwing");
      assert.equal(code, PANIC);
      assert.match(stdout, /^evaluating bad\nGuru Meditation: uncaught exception: Error: bad module\n at fail \(/);
      assert.ok(!stdout.includes("not reached"));
    });

    it("panics on a syntax error, naming the module and the line", async () => {
      const { code, stdout } = await run("syntax-error");
      assert.equal(code, PANIC);
      assert.ok(stdout.includes("Guru Meditation: uncaught exception: SyntaxError: lib/broken:2: missing expression"), stdout);
    });

    it("provides Moddable's text/encoder and text/decoder modules", async () => {
      const { code, stdout } = await run("text");
      assert.equal(stdout, "104,195,169,108,108,111,32,226,156,147\nh\u00e9llo \u2713 utf-8\n");
      assert.equal(code, 0);
    });

    it("panics on an unhandled rejection", async () => {
      const { code, stdout } = await run("rejection");
      assert.equal(code, PANIC);
      assert.match(stdout, /^main done\nGuru Meditation: unhandled rejection: TypeError: nobody catches this\n/);
    });
  });

  describe("host bindings", () => {
    it("binds @ \"name\", native(name) and Native(destructor) to C by symbol", async () => {
      const { code, stdout } = await run("bindings");
      assert.deepEqual(lines(stdout), [
        "@: 42 function add",
        "native: 3 42 same=true",
        "Native: 15 true",
        "destroyed: true",
        "caught: ReferenceError: host function not found: xs_vb_no_such_function",
      ]);
      assert.equal(code, 0);
    });

    it("fails to load a module bound to a missing symbol", async () => {
      const { code, stdout } = await run("missing-host");
      assert.equal(code, PANIC);
      assert.ok(stdout.includes("Guru Meditation: uncaught exception: ReferenceError: host function not found: xs_vb_no_such_symbol"), stdout);
    });
  });

  describe("timers", () => {
    const expected = ["main", "job", "d 0 object", "r 1", "b 50", "r 2", "a 100", "c 100", "r 3"];

    it("fire in due order, FIFO on ties, on the virtual clock driven by link clock messages", async () => {
      const board = start("timers", ["--clock", "virtual"]);
      board.uartRx.end();
      // fd 4 carries the logs and the clock acks in order: what ran in which window
      const until = async (ms: number) => {
        board.linkIn.write(frame({ t: "clock", advance_ms: ms }));
        const logs: string[] = [];
        for (;;) {
          const { json } = await board.nextMessage();
          if (json.t === "clock") return { logs, now: json.now_us };
          logs.push(String(json.m));
        }
      };
      assert.deepEqual(await until(0), { logs: expected.slice(0, 3), now: 0 });
      assert.deepEqual(await until(30), { logs: [], now: 30_000 });
      assert.deepEqual(await until(70), { logs: expected.slice(3, 8), now: 100_000 });
      assert.deepEqual(await until(1000), { logs: expected.slice(8), now: 1_100_000 });
      board.linkIn.end();
      const { code, stdout } = await board.exit;
      assert.deepEqual(lines(stdout), expected);
      assert.equal(code, 0);
    });

    it("fire in the same order on the real clock, then the board halts", async () => {
      const started = Date.now();
      const { code, stdout } = await run("timers");
      assert.deepEqual(lines(stdout), expected);
      assert.ok(Date.now() - started >= 120, "the last repeat is due at 120 ms");
      assert.equal(code, 0);
    });

    it("keep Moddable's quirks: unscheduled timers wait, dead timers cannot be cleared", async () => {
      const { code, stdout } = await run("timer-quirks");
      assert.deepEqual(lines(stdout), ["fired true", "clear after fire: SyntaxError", "parked fired"]);
      assert.equal(code, 0);
    });
  });

  describe("UART and link", () => {
    it("echoes UART bytes through the bridge natives and halts at the end of input", async () => {
      const board = start("uart-echo");
      board.linkIn.end();
      await board.waitForOutput("ready\n");
      board.uartRx.write("ping");
      await board.waitForOutput("<4:ping>");
      board.uartRx.end("\u00e9!");
      const { code, stdout } = await board.exit;
      assert.equal(stdout, "ready\n<4:ping><3:\u00e9!>");
      assert.equal(code, 0);
    });

    it("round-trips a link message with a binary payload", async () => {
      const board = start("link-echo");
      board.uartRx.end();
      assert.deepEqual((await board.nextMessage()).json, { t: "ready" });
      board.linkIn.write(frame({ t: "hello", n: 1 }, Buffer.from([1, 2, 3, 255])));
      const reply = await board.nextMessage();
      assert.deepEqual(reply.json, { t: "echo", got: { t: "hello", n: 1 }, binLength: 4 });
      assert.deepEqual([...reply.bin], [255, 3, 2, 1]);
      // split across writes: the host reassembles frames
      const stop = frame({ t: "stop" });
      board.linkIn.write(stop.subarray(0, 5));
      await new Promise((wake) => setTimeout(wake, 20));
      board.linkIn.write(stop.subarray(5));
      const last = await board.nextMessage();
      assert.deepEqual(last.json, { t: "echo", got: { t: "stop" }, binLength: -1 });
      assert.equal(last.bin.length, 0);
      const { code } = await board.exit;   // the firmware stopped listening: nothing left to do
      assert.equal(code, 0);
    });
  });

  describe("memory", () => {
    it(`reports ${bits / 2}-byte slots charged as the ESP32's 16, and a peak that survives gc, also in VB_MEMSTATS_FILE`, async () => {
      const file = join(work, "memstats.json");
      const { code, stdout } = await run("memstats", [], { VB_MEMSTATS_FILE: file });
      assert.equal(code, 0);
      const stats = JSON.parse(stdout);
      assert.equal(stats.slotSize, bits / 2);
      assert.equal(stats.heapSlotBytes, 16);
      assert.ok(stats.slotsPeak > stats.slotsCurrent + 5000, JSON.stringify(stats));
      assert.ok(stats.chunksPeak >= stats.chunksCurrent);
      assert.equal(stats.heapLimit, 0);
      const atExit = JSON.parse(readFileSync(file, "utf8"));
      assert.equal(atExit.slotSize, bits / 2);
      assert.equal(atExit.slotsPeak, stats.slotsPeak);
    });

    it("panics with memory full above --mem-limit", async () => {
      const file = join(work, "mem-limit.json");
      const { code, stdout } = await run("mem-limit", ["--mem-limit", "262144"], { VB_MEMSTATS_FILE: file });
      assert.equal(code, PANIC);
      assert.ok(stdout.includes("Guru Meditation: memory full\n"), stdout);
      const stats = JSON.parse(readFileSync(file, "utf8"));
      assert.equal(stats.heapLimit, 262144);
      assert.ok(stats.allocatedBytes <= 262144);
    });
  });

  it("halts with exit code 0 when nothing can happen anymore", async () => {
    const { code, stdout } = await run("idle");
    assert.equal(stdout, "idle\n");
    assert.equal(code, 0);
  });
});
