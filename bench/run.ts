// Benchmarks of the virtual board. Each figure is a ratio against an anchor
// measured in the same run, so a noisy machine shifts both sides alike:
//
//   idle heap      peak XS heap of the idle firmware after boot; anchor:
//                  none, the absolute figure is the anchor of the next two
//   heap, big OTA  peak XS heap while a 1 MB package streams in, over the
//                  peak while a 76 KB one does: constant memory means ~1.0
//   heap, pull     peak XS heap while the firmware downloads the 1 MB package
//                  itself (OTA.Update over its own HTTP client), over the
//                  320 KiB budget: must stay below 1
//
// The heap figures come from each build of the virtual board this machine
// runs (64-bit always, 32-bit where it can), each saying which: the 32-bit
// board has the ESP32's 16-byte slots; the 64-bit one counts its slots at 16
// bytes too, and its chunks as they are here (about 1.5x the 32-bit ones).
//   UART payload   firmware bytes per second through `xs-ota ota` on the
//                  UART, over the line rate of 115200 baud 8N1 (11520 B/s)
//
// Figures go to bench/results/<name>.json, committed, so history shows progress.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildFirmwarePackage } from "../host/vboard/firmware-package.ts";
import { boardBits, runnableBits, type BoardBits } from "../host/vboard/assets.ts";
import { runCli } from "../test/run-cli.ts";
import { file, servePackages, startBench, testFirmware, type Bench } from "../test/ota-rig.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const LINE_RATE = 115200 / 10;
/** The virtual board's heap cap: an ESP32's 320 KiB of DRAM (what Sys.GetInfo reports as ram_size). */
const ESP32_BUDGET = 320 * 1024;

interface Info {
  ram_size: number;
  ram_min_free: number;
}

async function peakHeap(bench: Bench): Promise<number> {
  const info = (await bench.rpc.call("Sys.GetInfo")) as Info;
  return info.ram_size - info.ram_min_free;
}

const BUILD_NOTE: Record<BoardBits, string> = {
  32: "32-bit board: the ESP32's 16-byte slots",
  64: "64-bit board: slots counted at the ESP32's 16 bytes, chunks as allocated here",
};

/** Push a package with OTA.Begin/Write (not End) and return the peak heap meanwhile. */
async function peakWhilePushing(zip: Buffer, bits: BoardBits): Promise<number> {
  const bench = await startBench("virtual", { bits });
  try {
    await bench.rpc.call("OTA.Begin", { size: zip.length, commit_timeout: 0 });
    for (let offset = 0; offset < zip.length; offset += 2048) {
      await bench.rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + 2048).toString("base64") });
    }
    return await peakHeap(bench);
  } finally {
    await bench.close();
  }
}

/** Let the board download and apply a package (OTA.Update), and return the peak heap, before it reboots. */
async function peakWhilePulling(zip: Buffer, bits: BoardBits): Promise<number> {
  const bench = await startBench("virtual", { bits });
  const server = await servePackages({ "/fw.zip": file(zip) });
  try {
    // The reboot that follows waits for the board's clock, which only the bench moves.
    await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 120_000 });
    return await peakHeap(bench);
  } finally {
    await server.close();
    await bench.close();
  }
}

function save(name: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(RESULTS, { recursive: true });
  const record = { name, date: new Date().toISOString(), ...figures };
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), JSON.stringify(record, null, 2) + "\n");
}

async function heapFigures(bits: BoardBits, small: Buffer, big: Buffer): Promise<void> {
  const idle = await startBench("virtual", { bits });
  const idlePeak = await peakHeap(idle).finally(() => idle.close());
  console.log(`idle heap      peak ${idlePeak} bytes after boot (${BUILD_NOTE[bits]})`);
  save(`idle-heap-${bits}bit`, { board_bits: bits, peak_bytes: idlePeak });

  const smallPeak = await peakWhilePushing(small, bits);
  const bigPeak = await peakWhilePushing(big, bits);
  const heapRatio = bigPeak / smallPeak;
  console.log(`heap, big OTA  ${heapRatio.toFixed(3)}  (peak ${bigPeak} B for ${big.length} B over ${smallPeak} B for ${small.length} B; ${bits}-bit board)`);
  save(`ota-heap-${bits}bit`, { board_bits: bits, ratio: heapRatio, big_package_bytes: big.length, big_peak_bytes: bigPeak, small_package_bytes: small.length, small_peak_bytes: smallPeak });

  const pullPeak = await peakWhilePulling(big, bits);
  console.log(`heap, pull     ${(pullPeak / ESP32_BUDGET).toFixed(3)}  (peak ${pullPeak} B downloading ${big.length} B over the ${ESP32_BUDGET} B budget; ${bits}-bit board)`);
  save(`pull-heap-${bits}bit`, { board_bits: bits, ratio: pullPeak / ESP32_BUDGET, peak_bytes: pullPeak, package_bytes: big.length, budget_bytes: ESP32_BUDGET });
}

async function main(): Promise<void> {
  const fw = await testFirmware();

  // A 1 MB package: the same firmware plus a module nobody imports.
  const big = await buildFirmwarePackage({ version: "3.0.0-big", firmwareOverride: [["ballast", `export default "${"x".repeat(1024 * 1024)}";\n`]] });
  for (const bits of runnableBits()) await heapFigures(bits, fw.v2.zip, big.zip);

  const { bits } = boardBits();
  const uart = await startBench("virtual", { bits });
  try {
    const file = path.join(uart.dir, "v2.zip");
    fs.writeFileSync(file, fw.v2.zip);
    const started = process.hrtime.bigint();
    // The board's supervisor runs in this process: the CLI must run beside it, not block it.
    const r = await runCli(["--port", uart.board.uartPath, "ota", file, "--commit-timeout", "0"]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.code !== 0) throw new Error(`xs-ota ota failed: ${r.stderr}`);
    const rate = fw.v2.zip.length / seconds;
    console.log(`UART payload   ${(rate / LINE_RATE).toFixed(3)}  (${Math.round(rate)} B/s over the 115200-baud line rate ${LINE_RATE} B/s; pseudo-terminal, no baud limit; ${bits}-bit board)`);
    save("uart-ota", { board_bits: bits, ratio: rate / LINE_RATE, bytes_per_second: rate, package_bytes: fw.v2.zip.length, seconds });
  } finally {
    await uart.close();
  }
}

await main();
