// The paced UART: 11,520 bytes at 115200 baud 8N1 take a second, not less,
// in each direction, on the line alone and through the virtual board.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SerialPort } from "serialport";
import { buildBoardProgram, writeFactoryFlash } from "./assets.ts";
import { VirtualBoard } from "./supervisor.ts";
import { UartPacer, USB_SERIAL_LATENCY_MS } from "./uart-pacer.ts";
import { testFirmware } from "../../test/ota-rig.ts";

const BAUD = 115200;
const LINE_BYTES_PER_S = BAUD / 10;
/** A second of 115200 baud 8N1. */
const ONE_SECOND = 11_520;
/** Slack above the line's time: timers, a loaded two-core machine. */
const SLACK_S = 0.25;

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

describe("the paced UART line", () => {
  it("hands on an 11,520-byte write at 115200 baud over ~1 s, progressively, never ahead of the line", async () => {
    const started = performance.now();
    const arrivals: Array<{ at: number; total: number }> = [];
    let total = 0;
    const done = new Promise<void>((resolve) => {
      const pacer = new UartPacer(BAUD, (bytes) => {
        total += bytes.length;
        arrivals.push({ at: performance.now() - started, total });
        if (total === ONE_SECOND) resolve();
      });
      pacer.write(Buffer.alloc(ONE_SECOND, 0x55));
    });
    await done;
    const elapsed = seconds(started);
    assert.ok(elapsed >= 0.98 && elapsed < 1 + SLACK_S, `${elapsed} s`);
    const byteMs = 1000 / LINE_BYTES_PER_S;
    for (const { at, total } of arrivals) assert.ok(total <= (at - USB_SERIAL_LATENCY_MS) / byteMs + 1, `${total} bytes by ${at} ms`);
    // A receiver reads a long write as it arrives, not at its end.
    assert.ok(arrivals.length > 50, `${arrivals.length} deliveries`);
    assert.ok(arrivals[0]!.at < 50, `first bytes after ${arrivals[0]!.at} ms`);
  });

  it("queues a write behind the one still on the line, and adds the chip's latency only to a write on an idle line", async () => {
    const started = performance.now();
    /** When the host had the first write whole, and the second. */
    const times: number[] = [];
    await new Promise<void>((resolve) => {
      let total = 0;
      const pacer = new UartPacer(BAUD, (bytes) => {
        total += bytes.length;
        // One delivery may end the first write and start the second.
        while (times.length < Math.floor(total / 1152)) times.push(performance.now() - started);
        if (total === 2304) resolve();
      });
      pacer.write(Buffer.alloc(1152));
      pacer.write(Buffer.alloc(1152));
    });
    assert.ok(times[0]! >= 100 + USB_SERIAL_LATENCY_MS - 1 && times[1]! >= 200 + USB_SERIAL_LATENCY_MS - 1, times.join(", "));
    assert.ok(times[1]! < 200 + SLACK_S * 1000, times.join(", "));
  });
});

describe("the virtual board's UART at 115200 baud", function () {
  this.timeout(60_000);
  let dir: string;
  let board: VirtualBoard;
  let port: SerialPort;
  /** Console output (the board's UART TX as it writes it, before the line) with the time of each piece. */
  const boardWrote: Array<{ at: number; text: string }> = [];
  let received: Buffer[] = [];

  before(async () => {
    const fw = await testFirmware();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-uart-pace-"));
    const flashPath = path.join(dir, "flash.bin");
    writeFactoryFlash(flashPath, fw.v1.app);
    board = new VirtualBoard({ binary: buildBoardProgram(), flashPath, httpPort: 0, uartLink: path.join(dir, "uart"), clock: "real", uartBaud: BAUD });
    board.on("console", (text) => boardWrote.push({ at: performance.now(), text }));
    await board.start();
    await board.waitReady();
    port = new SerialPort({ path: board.uartPath, baudRate: BAUD, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("data", (chunk: Buffer) => received.push(chunk));
    // The boot log still on its way to the host.
    await new Promise((r) => setTimeout(r, 500));
  });

  after(async () => {
    if (port?.isOpen) await new Promise((r) => port.close(r));
    await board?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    received = [];
    boardWrote.length = 0;
  });

  /** Resolve when the host has read `bytes` bytes since the test began. */
  async function hostReads(bytes: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Buffer.concat(received).length < bytes) {
      if (Date.now() > deadline) throw new Error(`the host read ${Buffer.concat(received).length} of ${bytes} bytes`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  it("lets the board see an 11,520-byte write from the host no sooner than ~1 s after it", async () => {
    // Each empty line is an empty frame, which the board answers with an empty line as it reads it.
    const started = performance.now();
    port.write(Buffer.alloc(ONE_SECOND, 0x0a));
    await hostReads(ONE_SECOND);
    const lastRead = boardWrote.at(-1)!.at;
    const boardSeconds = (lastRead - started) / 1000;
    assert.equal(boardWrote.map((w) => w.text).join(""), "\n".repeat(ONE_SECOND));
    assert.ok(boardSeconds >= 0.98 && boardSeconds < 1 + SLACK_S, `the board read the last byte after ${boardSeconds} s`);
  });

  it("lets the host read 11,520 bytes from the board no sooner than ~1 s after the board wrote the first", async () => {
    // Short requests, long replies: the board writes them all long before the line has carried them.
    const requests = Array.from({ length: 40 }, (_, i) => `{"id":${i + 1},"method":"RPC.List"}\n`).join("");
    port.write(requests);
    await new Promise((r) => setTimeout(r, 500));
    const replyBytes = Buffer.byteLength(boardWrote.map((w) => w.text).join(""));
    const firstWritten = boardWrote[0]!.at;
    const lastWritten = boardWrote.at(-1)!.at;
    assert.ok(replyBytes >= ONE_SECOND, `${replyBytes} bytes of replies`);
    assert.ok(Buffer.concat(received).length < replyBytes / 2, "the host has read half of the replies already");
    await hostReads(replyBytes);
    const lineSeconds = seconds(firstWritten);
    const wanted = replyBytes / LINE_BYTES_PER_S;
    assert.ok(lineSeconds >= 0.98 * wanted && lineSeconds < wanted + SLACK_S, `${replyBytes} bytes in ${lineSeconds} s, the line takes ${wanted} s`);
    assert.ok(lastWritten - firstWritten < 500, `the board took ${lastWritten - firstWritten} ms to write its replies`);
  });
});
