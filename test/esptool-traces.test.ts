// Replays what real esptool v4.12.0 and ESP-IDF v5.5.1's parttool.py and
// otatool.py exchanged with the virtual board over its RFC 2217 port
// (recorded by test/traces/esptool/record.sh; docs/interop.md has the runs),
// and checks that the board answers every command as it did when those tools
// succeeded: the same loader packets, in the same order. The host's bytes and
// DTR/RTS changes are sent in the recorded order; each host write waits
// until the board has sent as many packets as it had before that write, as
// the tool waited for its replies. Line changes keep their recorded spacing
// (capped), which the auto-reset circuit's strapping window depends on.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { boardBits, buildBoardProgram, ensureFlash } from "../host/vboard/assets.ts";
import { tryPidLock, type PidLock } from "../host/vboard/pid-lock.ts";
import { SLIP_END, SLIP_ESC, SLIP_ESC_END } from "../host/vboard/rom/slip.ts";
import { VirtualBoard } from "../host/vboard/supervisor.ts";
import type { TraceEvent } from "../host/vboard/uart-trace.ts";
import { Rfc2217Client } from "../host/vboard/rfc2217/com-port-client.ts";

const TRACES = new URL("./traces/esptool/", import.meta.url).pathname;
/** The flash path of the recordings: the board's MAC, which esptool reads, is derived from it. */
const WORK = "/tmp/xs-ota-esptool-traces";
const FLASH = path.join(WORK, "flash.bin");
/** Longest pause kept before a line change: the recorded tool's own waits, without pySerial's polling. */
const MAX_LINE_GAP_MS = 60;
/** Longest pause kept before a tool connects: longer than the strapping window, so the board boots from flash in between, as it did. */
const MAX_OPEN_GAP_MS = 800;
const PACKET_WAIT_MS = 10_000;

function readGzTrace(name: string): TraceEvent[] {
  const text = zlib.gunzipSync(fs.readFileSync(path.join(TRACES, `${name}.jsonl.gz`))).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as TraceEvent);
}

/**
 * Loader packets in the board's output, read as esptool's slip_reader reads
 * them: 0xC0 opens a packet, the next 0xC0 closes it, and what comes between
 * a close and the next open (the console: boot log, ROM banner) is dropped.
 */
function packetReader(): (bytes: Buffer) => Buffer[] {
  let packet: number[] | undefined;
  let escaping = false;
  return (bytes) => {
    const packets: Buffer[] = [];
    for (const byte of bytes) {
      if (packet === undefined) {
        if (byte === SLIP_END) packet = [];
      } else if (byte === SLIP_END) {
        if (packet.length) packets.push(Buffer.from(packet));
        packet = undefined;
      } else if (escaping) {
        packet.push(byte === SLIP_ESC_END ? SLIP_END : SLIP_ESC);
        escaping = false;
      } else if (byte === SLIP_ESC) {
        escaping = true;
      } else {
        packet.push(byte);
      }
    }
    return packets;
  };
}

/** Wait until `ms` after `since` (Date.now() of the previous event). */
function keepGap(since: number, ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, since + ms - Date.now())));
}

interface Replay {
  /** Packets the board sent in the recording, and in the replay. */
  recorded: Buffer[];
  replayed: Buffer[];
  /** The board's console during the replay. */
  console: string;
  /** ms from the last line change to the board's next "ready" (undefined: not within 20 s). */
  readyAfterLastLineMs: number | undefined;
}

async function replay(board: VirtualBoard, port: number, events: TraceEvent[]): Promise<Replay> {
  const recordedPackets = packetReader();
  const replayedPackets = packetReader();
  const recorded: Buffer[] = [];
  const replayed: Buffer[] = [];
  let wake: (() => void) | undefined;
  let consoleText = "";
  board.on("console", (text) => (consoleText += text));
  let client: Rfc2217Client | undefined;
  let lastLineAt = 0;
  // The recorded time and the replay's time of the event before, for the pauses kept.
  let previousT = 0;
  let previousAt = Date.now();

  const waitForPackets = async (count: number, what: string): Promise<void> => {
    const deadline = Date.now() + PACKET_WAIT_MS;
    while (replayed.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: the board sent ${replayed.length} packets, the recording ${count} by then\n${consoleText.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };

  for (const [i, event] of events.entries()) {
    const gap = event.t - previousT;
    if ("tx" in event) {
      recorded.push(...recordedPackets(Buffer.from(event.tx, "hex")));
      continue; // the board's output sets no pace of its own
    } else if ("port" in event) {
      if (event.port === "open") {
        await keepGap(previousAt, Math.min(MAX_OPEN_GAP_MS, gap));
        client = await Rfc2217Client.open(port);
        client.onData((bytes) => {
          replayed.push(...replayedPackets(bytes));
          wake?.();
        });
      } else {
        await client?.close();
        client = undefined;
      }
    } else if ("dtr" in event) {
      await keepGap(previousAt, Math.min(MAX_LINE_GAP_MS, gap));
      await client!.setLines({ dtr: event.dtr, rts: event.rts });
      lastLineAt = Date.now();
    } else if ("rx" in event) {
      await waitForPackets(recorded.length, `host write ${i}`);
      client!.write(Buffer.from(event.rx, "hex"));
    }
    previousT = event.t;
    previousAt = Date.now();
  }
  await waitForPackets(recorded.length, "the end of the trace");
  const ready = await board.waitReady(20_000).then(
    () => Date.now() - lastLineAt,
    () => undefined,
  );
  await client?.close();
  return { recorded, replayed, console: consoleText, readyAfterLastLineMs: ready };
}

function assertSamePackets(r: Replay): void {
  assert.equal(r.replayed.length, r.recorded.length, "packet count");
  for (const [i, packet] of r.recorded.entries()) {
    assert.equal(r.replayed[i]!.toString("hex"), packet.toString("hex"), `packet ${i} differs from the recording`);
  }
}

describe("esptool and ESP-IDF's scripts, replayed from recorded traces (RFC 2217, DTR/RTS auto-reset)", function () {
  this.timeout(240_000);
  let binary: string;
  let lock: PidLock;
  let board: VirtualBoard;
  let port: number;

  before(async function () {
    binary = buildBoardProgram(boardBits().bits);
    const taken = tryPidLock(`${FLASH}.lock`);
    if ("heldBy" in taken) throw new Error(`process ${taken.heldBy} is using ${FLASH} (a recording?): the replay needs that path for the board's MAC`);
    lock = taken;
  });

  after(() => lock?.release());

  beforeEach(async function () {
    await ensureFlash(FLASH, true);
    board = new VirtualBoard({ binary, flashPath: FLASH, httpPort: 0, uartLink: path.join(WORK, "uart"), clock: "real", rfc2217Port: 0 });
    await board.start();
    await board.waitReady();
    port = board.rfc2217Port!;
  });

  afterEach(async () => board?.stop());

  it("chip_id without --chip, 50 runs in a row (all 50 succeeded against the board): every answer as recorded, then it boots", async () => {
    const events = readGzTrace("chip-id-50");
    assert.equal(events.filter((e) => "port" in e && e.port === "open").length, 50, "the trace holds 50 esptool runs");
    const r = await replay(board, port, events);
    assertSamePackets(r);
    assert.equal((r.console.match(/EN high, GPIO0 low: download mode/g) ?? []).length, 50, "each run reset the board into download mode");
    assert.equal((r.console.match(/EN high, GPIO0 high: boot from flash/g) ?? []).length, 50, "each run's hard_reset booted from flash");
    assert.notEqual(r.readyAfterLastLineMs, undefined, `the board came up after the last hard_reset:\n${r.console.slice(-1500)}`);
  });

  it("read_flash of the partition table, with the stub (READ_FLASH) and with the ROM (READ_FLASH_SLOW)", async () => {
    const r = await replay(board, port, readGzTrace("read-flash"));
    assertSamePackets(r);
    const table = fs.readFileSync(FLASH).subarray(0x8000, 0x8c00);
    // The stub's READ_FLASH sends the table as one data packet; the ROM's READ_FLASH_SLOW answers 64 bytes at a time.
    assert.ok(r.replayed.some((p) => p.equals(table)), "READ_FLASH sent the table");
    const all = Buffer.concat(r.replayed);
    for (let at = 0; at < table.length; at += 64) assert.ok(all.includes(table.subarray(at, at + 64)), `READ_FLASH_SLOW sent bytes ${at}..${at + 64}`);
  });

  it("write_flash of another build's app, then --after hard_reset boots it at once, not after the 5 s idle reset", async () => {
    const r = await replay(board, port, readGzTrace("write-flash"));
    assertSamePackets(r);
    assert.match(r.console, /EN high, GPIO0 high: boot from flash/);
    assert.doesNotMatch(r.console, /leaving download mode: no host/);
    assert.ok(r.readyAfterLastLineMs !== undefined && r.readyAfterLastLineMs < 4000, `ready ${r.readyAfterLastLineMs} ms after the RTS pulse`);
    const info = (await (await fetch(`${board.httpUrl}/Sys.GetInfo`)).json()) as { fw_version: string };
    assert.equal(info.fw_version, "9.9.9-trace");
  });

  it("parttool.py get_partition_info/read_partition and otatool.py read_otadata/erase_otadata", async () => {
    const r = await replay(board, port, readGzTrace("idf-scripts"));
    assertSamePackets(r);
  });
});
