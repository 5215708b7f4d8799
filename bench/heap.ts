// Issue 14, item 5: the XS heap against the ESP32's 320 KiB of DRAM (what the
// virtual board caps its heap at and Sys.GetInfo reports as ram_size), for
// each build of the virtual board this machine runs:
//
//   heap-idle-<bits>   peak after boot, before anything is asked of the board
//   heap-pull-<bits>   peak while the firmware downloads and applies a 1.5 MB
//                      package itself (OTA.Update over its own HTTP client)
//   heap-push-<bits>   peak while a host client pushes the same package
//                      (OTA.Begin, OTA.Write per 2 KB, OTA.End)
//
// The peak is ram_size - ram_min_free, the low-water mark since boot. Pull
// and push each boot a fresh board and read its idle peak first: their
// detail gives the peak over that idle peak (constant memory: about 1.0).
// The 32-bit build has the ESP32's 16-byte slots; the 64-bit one counts its
// slots at 16 bytes too and its chunks as they are here (about 1.5x).

import { buildFirmwarePackage } from "../host/vboard/firmware-package.ts";
import { probeBits, runnableBits, type BoardBits } from "../host/vboard/assets.ts";
import { file, servePackages, startBench, testFirmware, type Bench } from "../test/ota-rig.ts";
import type { Benchmark, Figure } from "./figure.ts";

const ESP32_BUDGET = 320 * 1024;
const BUDGET_NAME = "ESP32 DRAM budget, 320 KiB";
/** The package size the issue names; the virtual board's OTA slots hold 1.5 MiB, so it fits with room for the image's tail. */
const PACKAGE_BYTES = 1_500_000;
const WRITE_CHUNK = 2048;
/** The board's heap must fit the ESP32's DRAM. */
const GOAL = "< 1";

const BUILD_NOTE: Record<BoardBits, string> = {
  32: "32-bit board: the ESP32's 16-byte slots",
  64: "64-bit board: slots counted at the ESP32's 16 bytes, chunks as allocated here",
};

interface Info {
  ram_size: number;
  ram_min_free: number;
}

async function peakHeap(bench: Bench): Promise<number> {
  const info = (await bench.rpc.call("Sys.GetInfo")) as Info;
  return info.ram_size - info.ram_min_free;
}

/** The test firmware plus a module nobody imports, padded so that the package is PACKAGE_BYTES. */
async function bigPackage(): Promise<Buffer> {
  const { v2 } = await testFirmware();
  const ballast = PACKAGE_BYTES - v2.zip.length;
  const built = await buildFirmwarePackage({ version: "3.0.0-big", firmwareOverride: [["ballast", `export default "${"x".repeat(ballast)}";\n`]] });
  return built.zip;
}

interface Peaks {
  idle: number;
  peak: number;
}

/** Boot a fresh board, read its idle peak, do `work` and read the peak again. */
async function peaksAround(bits: BoardBits, work: (bench: Bench) => Promise<void>): Promise<Peaks> {
  const bench = await startBench("virtual", { bits });
  try {
    const idle = await peakHeap(bench);
    await work(bench);
    // The reboot that follows an update waits for the board's clock, which only the bench moves: this still reads the updating boot.
    return { idle, peak: await peakHeap(bench) };
  } finally {
    await bench.close();
  }
}

async function pull(bench: Bench, zip: Buffer): Promise<void> {
  const server = await servePackages({ "/fw.zip": file(zip) });
  try {
    await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 120_000 });
  } finally {
    await server.close();
  }
}

async function push(bench: Bench, zip: Buffer): Promise<void> {
  await bench.rpc.call("OTA.Begin", { size: zip.length, commit_timeout: 0 });
  for (let offset = 0; offset < zip.length; offset += WRITE_CHUNK) {
    await bench.rpc.call("OTA.Write", { offset, data: zip.subarray(offset, offset + WRITE_CHUNK).toString("base64") });
  }
  await bench.rpc.call("OTA.End");
}

function heapFigure(name: string, peak: number, detail: Record<string, unknown>): Figure {
  return { name, value: peak, unit: "B", limit: ESP32_BUDGET, limitName: BUDGET_NAME, ratio: peak / ESP32_BUDGET, better: "lower", goal: GOAL, detail };
}

async function figuresOf(bits: BoardBits, zip: Buffer): Promise<Figure[]> {
  const build = { board_bits: bits, build: BUILD_NOTE[bits] };
  const pulled = await peaksAround(bits, (bench) => pull(bench, zip));
  const pushed = await peaksAround(bits, (bench) => push(bench, zip));
  const during = (p: Peaks) => ({ ...build, idle_peak_bytes: p.idle, peak_over_idle: p.peak / p.idle, package_bytes: zip.length });
  return [
    // The pull board's reading before its update: the idle firmware after boot.
    heapFigure(`heap-idle-${bits}bit`, pulled.idle, build),
    heapFigure(`heap-pull-${bits}bit`, pulled.peak, during(pulled)),
    heapFigure(`heap-push-${bits}bit`, pushed.peak, during(pushed)),
  ];
}

export const heap: Benchmark = {
  title: "heap: idle, 1.5 MB pull and push against the ESP32's 320 KiB",
  async run() {
    const zip = await bigPackage();
    const runnable = runnableBits();
    if (!runnable.includes(32)) console.log(`heap: the 32-bit build is skipped: ${probeBits().why}`);
    const figures: Figure[] = [];
    for (const bits of runnable) figures.push(...(await figuresOf(bits, zip)));
    return figures;
  },
};
