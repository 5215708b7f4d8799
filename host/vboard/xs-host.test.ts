// The XS host of the virtual board (host/vboard/xs/), tested through the
// real program: build/vboard/<bits>/vboard --modules ARCHIVE, with real pipes
// on fd 0/1/2 (UART, diagnostics) and fd 3/4 (supervisor link), once for
// each build this machine runs (64-bit always, 32-bit where it can).
// Fixtures: host/vboard/xs/tests/<case>/*.js, packed by make-archive.mjs.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
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

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** A Node TCP server on a free loopback port, and the connections it got. */
interface Peer {
  server: net.Server;
  port: number;
  connections: net.Socket[];
  /** resolves with the next connection (or one already made and not yet taken) */
  next(): Promise<net.Socket>;
  close(): void;
}

async function peer(onConnection: (socket: net.Socket) => void = () => {}, options: net.ServerOpts = {}): Promise<Peer> {
  const connections: net.Socket[] = [];
  const untaken: net.Socket[] = [];
  const waiters: Array<(socket: net.Socket) => void> = [];
  const server = net.createServer(options, (socket) => {
    socket.on("error", () => {});
    connections.push(socket);
    onConnection(socket);
    const waiter = waiters.shift();
    if (waiter) waiter(socket);
    else untaken.push(socket);
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    connections,
    next: () => (untaken.length ? Promise.resolve(untaken.shift()!) : new Promise((take) => waiters.push(take))),
    close: () => {
      for (const socket of connections) socket.destroy();
      server.close();
    },
  };
}

/** A loopback port nothing listens on (taken from the kernel, then let go). */
async function freePort(): Promise<number> {
  const p = await peer();
  p.close();
  return p.port;
}

function connectTo(port: number): Promise<net.Socket> {
  return new Promise((connected, failed) => {
    const socket = net.connect(port, "127.0.0.1", () => connected(socket));
    socket.once("error", failed);
  });
}

/** Bytes from a socket until it has `count` of them. */
function receive(socket: net.Socket, count: number): Promise<Buffer> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= count) {
        socket.off("data", onData);
        done(Buffer.concat(chunks));
      }
    };
    socket.on("data", onData);
  });
}

/** How long from sending `bytes` to having them all back. */
async function roundTrip(socket: net.Socket, bytes: Buffer): Promise<number> {
  const started = Date.now();
  const back = receive(socket, bytes.length);
  socket.write(bytes);
  assert.deepEqual(await back, bytes);
  return Date.now() - started;
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

    it("panics with memory full above --mem-limit, counting XS's built-ins as flash", async () => {
      const file = join(work, "mem-limit.json");
      const { code, stdout } = await run("mem-limit", ["--mem-limit", "262144"], { VB_MEMSTATS_FILE: file });
      assert.equal(code, PANIC);
      assert.ok(stdout.includes("Guru Meditation: memory full\n"), stdout);
      const stats = JSON.parse(readFileSync(file, "utf8"));
      assert.equal(stats.heapLimit, 262144);
      // The fresh machine's built-ins: tens of KB, as xsl would put in flash.
      assert.ok(stats.romBytes > 30_000 && stats.romBytes < 150_000, `romBytes ${stats.romBytes}`);
      assert.ok(stats.allocatedBytes <= 262144 + stats.romBytes);
      // Used to its end, but for less than what one more growth would take (2048 slots, 32 KB, and a 16 KB chunk block).
      assert.ok(stats.allocatedBytes > 262144 + stats.romBytes - 48 * 1024, "the cap was used to its end");
    });
  });

  describe("socket module", () => {
    const closed = "SyntaxError: C: xsGetHostData: invalid host data";
    let peers: Peer[] = [];
    let boards: Board[] = [];
    const track = (board: Board) => (boards.push(board), board);
    afterEach(() => {
      for (const board of boards) if (board.child.exitCode === null && board.child.signalCode === null) board.child.kill();
      for (const p of peers) p.close();
      boards = [];
      peers = [];
    });
    const newPeer = async (onConnection?: (socket: net.Socket) => void, options?: net.ServerOpts) => {
      const p = await peer(onConnection, options);
      peers.push(p);
      return p;
    };
    /** A line-echo peer: each line comes back, late by `delayMs`, with "extra" after it. */
    const lineEcho = (delayMs: number) => (socket: net.Socket) => {
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
        if (text.endsWith("\n")) setTimeout(() => socket.write(text + "extra"), delayMs);
      });
    };
    const echoLines = [
      "connected undefined 127.0.0.1",
      "room 8192",
      "room after 8180",
      "writable 8192",
      "readable 17 17",
      "number 104",
      "skipped 2",
      'line "lo world\\n"',
      "three ext",
      "rest 2",
      "left 0",
      "empty Error: nothing to read",
      "remote 127.0.0.1 undefined",
      `closed ${closed}`,
      `closed ${closed}`,
      `closed ${closed}`,
    ];

    for (const clock of ["real", "virtual"]) {
      it(`connects, writes, reads and closes as Moddable's lwIP socket does (${clock} clock)`, async () => {
        const server = await newPeer(lineEcho(150));
        const board = track(start("socket-echo", ["--clock", clock, "--config", JSON.stringify({ port: server.port })]));
        board.uartRx.end();
        board.linkIn.end();
        const connection = await server.next();
        const ended = new Promise((done) => connection.on("end", done));
        const { code, stdout } = await board.exit;
        assert.deepEqual(lines(stdout), echoLines);
        assert.equal(code, 0);
        await ended;   // close() with everything read: FIN, not RST
      });
    }

    it("accepts a Listener's connections with new Socket({listener}), and stays up while it listens", async () => {
      const port = await freePort();
      const board = track(start("socket-listen", ["--config", JSON.stringify({ port })]));
      board.uartRx.end();
      board.linkIn.end();
      await board.waitForOutput("listening\n");
      const a = await connectTo(port);
      const capitals = receive(a, 4);
      a.write("abc\n");
      assert.equal((await capitals).toString(), "ABC\n");
      const b = await connectTo(port);
      const upper = receive(b, 4);
      b.write("xyz\n");
      assert.equal((await upper).toString(), "XYZ\n");
      await sleep(300);
      assert.equal(board.child.exitCode, null, "a board with a listener open must not halt");
      const stopped = receive(a, 5);
      a.write("stop\n");
      assert.equal((await stopped).toString(), "STOP\n");
      await assert.rejects(connectTo(port), /ECONNREFUSED/);
      a.end();
      b.end();
      const { code, stdout, stderr } = await board.exit;
      assert.deepEqual(lines(stdout), [
        "none waiting: Error: no socket avaiable from listener",
        "listening",
        "accepted 0 1 127.0.0.1 true",
        "connected 0",
        'read 0 4 "abc\\n"',
        "accepted 1 1 127.0.0.1 true",
        "connected 1",
        'read 1 4 "xyz\\n"',
        'read 0 5 "stop\\n"',
        `after close: ${closed}`,
        ...lines(stdout).slice(-2).sort(),   // the two disconnects, in whichever order they came
      ]);
      assert.deepEqual(lines(stdout).slice(-2).sort(), ["disconnected 0", "disconnected 1"]);
      assert.match(stderr, /close on closed listener/);
      assert.equal(code, 0, "nothing open anymore: the board halts");
    });

    it("throws the device's errors and reports a refused connect as an error message", async () => {
      const busy = await newPeer();
      const port = await freePort();
      const { code, stdout, stderr } = await run("socket-errors", ["--config", JSON.stringify({ port, busyPort: busy.port })]);
      const out = lines(stdout);
      assert.deepEqual(out.slice(0, 9), [
        '{"kind":"UDP","port":5}: Error: UDP sockets are not emulated by the virtual board (TCP only)',
        '{"kind":"RAW"}: Error: RAW sockets are not emulated by the virtual board (TCP only)',
        '{"kind":"SCTP"}: Error: invalid socket kind',
        '{"port":80}: Error: invalid dictionary',
        '{"address":"1.2.3.4.5","port":80}: Error: invalid IP address',
        '{"address":"not an address","port":80}: Error: invalid IP address',
        "listener: Error: invalid IP address",
        "busy: Error: socket bind",
        "frozen true true 1 2 3 -1 -2",
      ]);
      assert.deepEqual(out.slice(9).sort(), ["refused: message -2, remote undefined, room 0", "unresolved: message -2"]);
      assert.match(stderr, /write on closed socket/);
      assert.equal(code, 0);
    });

    it("keeps what a readable callback leaves unread, and disconnects after the last byte is read", async () => {
      const server = await newPeer((socket) => socket.end(Buffer.alloc(4000, 0x61)));
      const { code, stdout } = await run("socket-segments", ["--config", JSON.stringify({ port: server.port })]);
      const out = lines(stdout);
      const first = /^first (\d+) left (\d+)$/.exec(out[0] ?? "");
      assert.ok(first, stdout);
      assert.ok(Number(first[1]) <= 1436, "a readable announces one segment, at most an MSS");
      assert.equal(Number(first[2]), Number(first[1]) - 10);
      assert.equal(out[1], `timer read ${Number(first[1]) - 10}`, "no readable before the segment is read to its end");
      const segments = out.slice(2, -1).map((line) => {
        const [, value, read] = /^readable (\d+) (\d+)$/.exec(line) ?? assert.fail(line);
        assert.equal(value, read);
        assert.ok(Number(value) <= 1436);
        return Number(value);
      });
      assert.equal(Number(first[1]) + segments.reduce((a, b) => a + b, 0), 4000);
      assert.equal(out.at(-1), "disconnected 4000 127.0.0.1");
      assert.equal(code, 0);
    });

    it("refuses writes past the room, and says writable once the peer's TCP has acknowledged all", async () => {
      const limit = 16 * 1024 * 1024;
      const server = await newPeer(() => {}, { pauseOnConnect: true });
      const board = track(start("socket-flow", ["--config", JSON.stringify({ port: server.port, limit })]));
      board.uartRx.end();
      board.linkIn.end();
      const connection = await server.next();
      // the peer reads nothing: its window fills, then nothing is acknowledged
      let seen = "";
      for (let quiet = 0; quiet < 4; ) {
        await sleep(100);
        quiet = board.stdout() === seen ? quiet + 1 : 0;
        seen = board.stdout();
        assert.ok(!seen.includes("done"), "the peer's window never filled");
      }
      const stalled = lines(seen);
      assert.deepEqual(stalled.slice(0, 3), [
        "too much: Error: can't write all data",
        "too much in two: Error: can't write all data",
        "boolean: Error: unsupported type for write",
      ]);
      assert.match(stalled.at(-1)!, /^wrote \d+ total \d+ room 0$/, "waiting for acknowledgements");
      assert.ok(stalled.slice(3).every((line) => /^(wrote \d+ total \d+ room 0|writable 8192)$/.test(line)), seen);
      connection.resume();   // reading: acknowledgements come, so does writable
      await board.waitForOutput("done\n");
      const { code, stdout } = await board.exit;
      assert.ok(lines(stdout).length > stalled.length + 2);
      assert.equal(code, 0);
    });

    it("holds the messages of a suspended socket until it is resumed", async () => {
      const server = await newPeer((socket) => socket.write("data"));
      const { code, stdout } = await run("socket-suspend", ["--config", JSON.stringify({ port: server.port })]);
      assert.deepEqual(lines(stdout), [
        "suspend true true",
        "write: Error: suspended",
        "resume false",
        "message 1 undefined",
        "message 2 4",
        "read data",
      ]);
      assert.equal(code, 0);
    });

    it("has the ESP32's 8 TCP pcbs, listeners included", async () => {
      const server = await newPeer();
      const listenPort = await freePort();
      const board = track(start("socket-limit", ["--config", JSON.stringify({ port: server.port, listenPort, free: true })]));
      board.uartRx.end();
      board.linkIn.end();
      await board.waitForOutput("one free\n");
      await connectTo(listenPort);
      await board.waitForOutput("accepted 127.0.0.1\n");
      assert.deepEqual(lines(board.stdout()), [
        "opened 7: Error: failed to allocate socket",
        "listener: Error: socket allocation failed",
        "reopened 7",
        "one free",
        "accepting",
        "accepted 127.0.0.1",
      ]);
    });

    it("panics as Moddable 7.2.1 does when a connection is accepted with no pcb free", async () => {
      const server = await newPeer();
      const listenPort = await freePort();
      const board = track(start("socket-limit", ["--config", JSON.stringify({ port: server.port, listenPort })]));
      board.uartRx.end();
      board.linkIn.end();
      await board.waitForOutput("reopened 7\n");
      connectTo(listenPort).catch(() => {});
      const { code, stdout, stderr } = await board.exit;
      assert.equal(code, PANIC);
      assert.match(stdout, /accepting\nGuru Meditation: LoadProhibited: new Socket\(\{listener\}\) took a connection that lwIP accepted with a NULL pcb/);
      assert.match(stderr, /arrived with all 8 TCP pcbs in use/);
    });

    it("takes turns with timers, each socket callback a task whose promise jobs run at once", async () => {
      const server = await newPeer((socket) => {
        socket.write("a");
        setTimeout(() => socket.write("b"), 130);
        setTimeout(() => socket.write("c"), 260);
      });
      const { code, stdout } = await run("socket-timers", ["--config", JSON.stringify({ port: server.port })]);
      const out = lines(stdout);
      for (const [i, line] of out.entries()) {
        const read = /^read (\d) (\w)$/.exec(line);
        const tick = /^tick (\d+)$/.exec(line);
        if (read) assert.equal(out[i + 1], `read job ${read[1]}`, stdout);
        if (tick) assert.equal(out[i + 1], `tick job ${tick[1]}`, stdout);
      }
      assert.deepEqual(out.filter((line) => line.startsWith("read ") && !line.includes("job")), ["read 1 a", "read 2 b", "read 3 c"]);
      const ticksBetween = out.slice(out.indexOf("read 1 a"), out.indexOf("read 3 c")).filter((line) => /^tick \d+$/.test(line));
      assert.ok(ticksBetween.length >= 4, stdout);
      assert.equal(code, 0);
    });

    describe("network faults", () => {
      let board: Board;
      let outPeer: Peer;
      let listenPort: number;
      const net_ = async (message: Record<string, unknown>) => {
        board.linkIn.write(frame({ t: "net", ...message }));
        for (;;) {
          const { json } = await board.nextMessage();
          if (json.t === "net") return json;
        }
      };
      const connectOut = () => board.linkIn.write(frame({ t: "connect" }));

      beforeEach(async () => {
        outPeer = await newPeer();
        listenPort = await freePort();
        board = track(start("socket-shaped", ["--config", JSON.stringify({ port: outPeer.port, listenPort })]));
        board.uartRx.end();
        await board.waitForOutput("ready\n");
      });

      it("shape: latency and bandwidth per port, in real time, acknowledged with the connections matched", async () => {
        const client = await connectTo(listenPort);
        assert.ok((await roundTrip(client, Buffer.from("x"))) < 100);
        assert.deepEqual(await net_({ op: "shape", port: listenPort, latency_ms: 100, id: 7 }), { t: "net", op: "shape", port: listenPort, matched: 1, id: 7 });
        const slow = await roundTrip(client, Buffer.from("y"));
        assert.ok(slow >= 190 && slow < 1500, `round trip ${slow} ms with 100 ms each way`);
        assert.deepEqual(await net_({ op: "shape", port: listenPort, bytes_per_s: 16000 }), { t: "net", op: "shape", port: listenPort, matched: 1 });
        const capped = await roundTrip(client, Buffer.alloc(8000, 0x5a));
        assert.ok(capped >= 400 && capped < 5000, `8000 bytes at 16000 B/s took ${capped} ms`);
        const listed = await net_({ op: "list" });
        assert.deepEqual(listed.listeners, [{ port: listenPort, state: "listening" }]);
        assert.deepEqual(listed.connections, [{ local: listenPort, remote: client.localPort, state: "open", stalled: false, latency_ms: 0, bytes_per_s: 16000 }]);
        assert.deepEqual(await net_({ op: "shape", port: listenPort }), { t: "net", op: "shape", port: listenPort, matched: 1 });
        assert.ok((await roundTrip(client, Buffer.alloc(8000, 0x5a))) < 300);
      });

      it("stall holds the bytes both ways until resume", async () => {
        const client = await connectTo(listenPort);
        assert.ok((await roundTrip(client, Buffer.from("x"))) < 100);
        assert.deepEqual(await net_({ op: "stall", port: client.localPort }), { t: "net", op: "stall", port: client.localPort, matched: 1 });
        const back = receive(client, 5);
        client.write("hello");
        await sleep(300);
        assert.ok(!board.stdout().includes("in0 read 5"), "a stalled connection delivers nothing");
        assert.deepEqual(await net_({ op: "resume" }), { t: "net", op: "resume", matched: 1 });
        assert.equal((await back).toString(), "hello");
      });

      it("drop: the peer reads EOF, the firmware hears disconnected", async () => {
        connectOut();
        const server = await outPeer.next();
        const ended = new Promise((done) => server.on("end", done));
        server.on("error", (error) => assert.fail(error));
        await board.waitForOutput("out0 message 1\n");
        assert.deepEqual(await net_({ op: "drop", port: outPeer.port }), { t: "net", op: "drop", port: outPeer.port, matched: 1 });
        await ended;
        await board.waitForOutput("out0 message -1\n");
      });

      it("reset: the peer gets ECONNRESET, the firmware an error", async () => {
        const client = await connectTo(listenPort);
        assert.ok((await roundTrip(client, Buffer.from("x"))) < 100);
        const failed = new Promise<NodeJS.ErrnoException>((done) => client.on("error", done));
        assert.deepEqual(await net_({ op: "reset", port: listenPort }), { t: "net", op: "reset", port: listenPort, matched: 1 });
        client.write("more");
        assert.equal((await failed).code, "ECONNRESET");
        await board.waitForOutput("in0 message -2\n");
      });

      it("refuse: connects to the port fail as refused, both ways, until allow", async () => {
        assert.deepEqual(await net_({ op: "refuse", port: outPeer.port }), { t: "net", op: "refuse", port: outPeer.port, matched: 0 });
        connectOut();
        await board.waitForOutput("out0 message -2\n");
        assert.equal(outPeer.connections.length, 0);
        assert.deepEqual(await net_({ op: "allow", port: outPeer.port }), { t: "net", op: "allow", port: outPeer.port, matched: 0 });
        connectOut();
        const server = await outPeer.next();
        await board.waitForOutput("out1 message 1\n");
        assert.ok((await roundTrip(server, Buffer.from("out"))) < 200);

        assert.deepEqual(await net_({ op: "refuse", port: listenPort }), { t: "net", op: "refuse", port: listenPort, matched: 1 });
        await assert.rejects(connectTo(listenPort), /ECONNREFUSED/);
        assert.deepEqual(await net_({ op: "allow", port: listenPort }), { t: "net", op: "allow", port: listenPort, matched: 1 });
        const client = await connectTo(listenPort);
        assert.ok((await roundTrip(client, Buffer.from("in"))) < 200);
      });

      it("a board that goes away leaves its connections as they are: what it wrote arrives, then the end", async () => {
        // (A device's last reply before esp_restart() leaves too; its peer would
        // then hear nothing, where here it reads a FIN at once.)
        const client = await connectTo(listenPort);
        assert.ok((await roundTrip(client, Buffer.from("x"))) < 100);
        const ended = new Promise<void>((done) => client.on("end", done));
        client.on("error", (e) => assert.fail(`the peer got ${e.message}`));
        board.child.kill("SIGKILL");
        await ended;
      });

      it("answers a bad message with an error", async () => {
        assert.deepEqual(await net_({ op: "melt" }), { t: "net", op: "melt", error: "unknown op (shape, stall, resume, drop, reset, refuse, allow, clear, list)" });
        assert.deepEqual(await net_({ op: "drop", port: 70000 }), { t: "net", op: "drop", error: "port: an integer from 1 to 65535" });
        assert.deepEqual(await net_({ op: "shape", latency_ms: "slow" }), { t: "net", op: "shape", error: "latency_ms: a number of milliseconds, 0 or more" });
        assert.deepEqual(await net_({ op: "clear", id: "c" }), { t: "net", op: "clear", matched: 0, id: "c" });
      });
    });
  });

  describe("mc/config", () => {
    it("is the --config object, frozen", async () => {
      const settings = { httpPort: 8080, mqttServer: "127.0.0.1:1883", debug: true, ratio: 0.5, name: "b\u00e9 \"q\"" };
      const { code, stdout } = await run("mc-config", ["--config", JSON.stringify(settings)]);
      assert.equal(stdout, `${JSON.stringify(settings)} frozen true\n`);
      assert.equal(code, 0);
    });

    it("is an empty object without --config", async () => {
      const { code, stdout } = await run("mc-config");
      assert.equal(stdout, "{} frozen true\n");
      assert.equal(code, 0);
    });

    for (const [config, problem] of [
      ['{"a":{"b":1}}', "no nested objects or arrays"],
      ["[1]", "not a JSON object"],
      ['{"a":1,}', "expected a string"],
      ['{"a":.5}', "values must be strings, numbers or booleans"],
    ]) {
      it(`refuses --config ${config} (exit 2)`, async () => {
        const { code, stderr } = await run("mc-config", ["--config", config]);
        assert.equal(code, 2);
        assert.ok(stderr.includes(problem), stderr);
      });
    }
  });

  it("halts with exit code 0 when nothing can happen anymore", async () => {
    const { code, stdout } = await run("idle");
    assert.equal(stdout, "idle\n");
    assert.equal(code, 0);
  });
});
