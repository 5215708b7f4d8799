// `xs-ota ota` over the virtual board's UART, paced at 115200 and 921600 baud
// 8N1 (host/vboard/uart-pacer.ts), against the framing limit: the line rate
// times the share of payload in the OTA.Write frames the push must send (the
// chunk in base64, the JSON around it, mos's `"""` delimiters, the CRC and
// the newlines). Replies travel the other way and are not counted; the
// handshakes and the waits for replies are what the ratio measures.
//
//   uart-ota-<baud>      xs-ota ota --chunk-size MAX_CHUNK_SIZE --window 3
//   uart-ota-mos-<baud>  the anchor: mos ota's request pattern (512-byte
//                        chunks, one write in flight, a handshake before
//                        each frame), by xs-ota ota's defaults
//
// The rate is the package's bytes over the time from the board's "update
// started" (OTA.Begin) to its "update applied" (OTA.End), timed where the
// board writes them: the writes, their replies and OTA.End's checks, not the
// CLI's start nor the chip check before OTA.Begin (whole-command times are in
// `detail`). Each push starts from a fresh board.
//
// Run alone: npx tsx --tsconfig tsconfig.json bench/uart-ota.ts

import fs from "node:fs";
import path from "node:path";
import { MAX_CHUNK_SIZE } from "../host/cli/ota-command.ts";
import { encodeMosFrame } from "../host/client/uart-reader.ts";
import { encodeRequest } from "rpc/frame";
import { runCli } from "../test/run-cli.ts";
import { startBench, testFirmware } from "../test/ota-rig.ts";
import { isMain, runStandalone } from "./standalone.ts";
import type { Benchmark, Figure } from "./figure.ts";

const BAUDS = [115200, 921600] as const;
/** Writes in flight: two keep the line busy while the board writes to flash; a third covers a slow turn. */
const WINDOW = 3;
/** mos ota's --chunk-size default (cli/flags/flags.go). */
const MOS_CHUNK = 512;
/** The ids xs-ota and mos send: 13 digits, in [2^40, 2^41). */
const TYPICAL_ID = 2 ** 40;

interface Push {
  /** Package bytes per second from OTA.Begin to OTA.End, as the board saw them. */
  bytesPerSecond: number;
  transferSeconds: number;
  commandSeconds: number;
}

/** The payload's share of the OTA.Write frames for `zip` in `chunk`-byte pieces, as xs-ota frames them on a UART. */
function payloadShare(zip: Buffer, chunk: number): number {
  let frameBytes = 0;
  for (let offset = 0; offset < zip.length; offset += chunk) {
    const data = zip.subarray(offset, offset + chunk).toString("base64");
    frameBytes += encodeMosFrame(encodeRequest({ src: "mos", id: TYPICAL_ID, method: "OTA.Write", params: { offset, data } })).length;
  }
  return zip.length / frameBytes;
}

/** One `xs-ota ota` of `zip` on a fresh board whose UART runs at `baud`. */
async function push(zip: Buffer, baud: number, args: string[]): Promise<Push> {
  const bench = await startBench("real", { uartBaud: baud });
  const marks: Record<string, number> = {};
  bench.board.on("console", (text) => {
    for (const mark of ["update started", "update applied"]) if (text.includes(mark)) marks[mark] ??= performance.now();
  });
  try {
    const file = path.join(bench.dir, "fw.zip");
    fs.writeFileSync(file, zip);
    const started = performance.now();
    const r = await runCli(["--port", bench.board.uartPath, "ota", file, "--commit-timeout", "0", ...args]);
    const commandSeconds = (performance.now() - started) / 1000;
    if (r.code !== 0) throw new Error(`xs-ota ota ${args.join(" ")} at ${baud} baud failed: ${r.stderr}`);
    const begun = marks["update started"];
    const applied = marks["update applied"];
    if (begun === undefined || applied === undefined) throw new Error("the board did not log the start and the end of the update");
    const transferSeconds = (applied - begun) / 1000;
    return { bytesPerSecond: zip.length / transferSeconds, transferSeconds, commandSeconds };
  } finally {
    await bench.close();
  }
}

/**
 * What `mos ota` itself would take at 115200 baud, computed from its source,
 * not measured: there it writes 16 bytes every 5 ms and, before each frame,
 * sends the handshake and waits 200 ms for its answer (cli/devutil/devutil.go,
 * common/mgrpc/codec/serial.go); at other rates it does neither.
 */
function mosPacedEstimate(zip: Buffer, baud: number): number | undefined {
  if (baud !== 115200) return undefined;
  const frames = Math.ceil(zip.length / MOS_CHUNK);
  const frameBytes = zip.length / payloadShare(zip, MOS_CHUNK) / frames;
  const secondsPerFrame = 0.2 + 0.005 + Math.ceil(frameBytes / 16) * 0.005;
  return MOS_CHUNK / secondsPerFrame;
}

function figure(name: string, baud: number, zip: Buffer, chunk: number, window: number, measured: Push, detail: Record<string, unknown>): Figure {
  const lineRate = baud / 10;
  const share = payloadShare(zip, chunk);
  const limit = lineRate * share;
  return {
    name,
    value: Math.round(measured.bytesPerSecond),
    unit: "B/s",
    limit: Math.round(limit),
    limitName: `framing limit of ${baud} baud 8N1: ${lineRate} B/s x ${share.toFixed(3)} payload in ${chunk}-byte OTA.Write frames`,
    ratio: measured.bytesPerSecond / limit,
    better: "higher",
    detail: {
      package_bytes: zip.length,
      chunk_bytes: chunk,
      writes_in_flight: window,
      transfer_seconds: measured.transferSeconds,
      command_seconds: measured.commandSeconds,
      line_bytes_per_second: lineRate,
      payload_share: share,
      ...detail,
    },
  };
}

async function run(): Promise<Figure[]> {
  const zip = (await testFirmware()).v2.zip;
  const figures: Figure[] = [];
  for (const baud of BAUDS) {
    const ours = await push(zip, baud, ["--chunk-size", String(MAX_CHUNK_SIZE), "--window", String(WINDOW)]);
    const mos = await push(zip, baud, []);
    const estimate = mosPacedEstimate(zip, baud);
    const anchor = figure(`uart-ota-mos-${baud}`, baud, zip, MOS_CHUNK, 1, mos, {
      how: "xs-ota ota's defaults: mos ota's 512-byte chunks, one write in flight, a handshake before each frame",
      ...(estimate && { mos_paced_estimate_bytes_per_second: Math.round(estimate), mos_paced_note: "mos itself at 115200 baud also writes 16 B every 5 ms and waits 200 ms per handshake: computed, not measured" }),
    });
    figures.push(
      {
        ...figure(`uart-ota-${baud}`, baud, zip, MAX_CHUNK_SIZE, WINDOW, ours, {
          mos_style_bytes_per_second: anchor.value,
          speedup_over_mos_style: ours.bytesPerSecond / mos.bytesPerSecond,
        }),
        goal: ">= 0.9",
      },
      anchor,
    );
  }
  return figures;
}

export const uartOta: Benchmark = { title: "xs-ota ota over the paced UART", run };

if (isMain(import.meta.url)) await runStandalone(uartOta);
