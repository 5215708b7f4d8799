// Issue 14, item 2: how close OTA.Update comes to the flash's own limit.
//
// The board downloads a 1.5 MB package itself over HTTP from a local server
// (a fast link) with the flash timing model on (typical W25Q32JV figures,
// host/vboard/idf/README.md "Flash timing") on the real clock, so the board
// really waits for each erase and program. Its time for the update, from
// its own clock (the link's flash statistics), is set against the
// flash-bound time: erasing and programming the image alone, once, by the
// same table. What the board spends beyond that is broken down: the model's
// time for what it did besides (reads of the digest and image checks, the
// otadata) and the rest, which is CPU
// and network (download, zip parsing, hashing, JS). The same update with
// the model off gives that rest on its own, as a cross-check.
//
// Run alone: npx tsx --tsconfig tsconfig.json bench/flash-bound.ts

import { buildFirmwarePackage } from "../host/vboard/firmware-package.ts";
import type { FlashStats, FlashTiming } from "../host/vboard/supervisor.ts";
import { file, servePackages, startBench, testFirmware } from "../test/ota-rig.ts";
import type { Benchmark, Figure } from "./figure.ts";
import { flashBoundNs, flashTimingTable } from "./flash-timing-table.ts";
import { isMain, runStandalone } from "./standalone.ts";

/** The app image's size: 1.5 MB, within the 1.5 MiB (0x180000) slot with room for its padding and hash. */
const IMAGE_BYTES = 1_500_000;

/** The update's figures from the board: its clock and the flash's statistics before and after. */
interface UpdateRun {
  readonly boardUs: number;
  readonly before: FlashStats;
  readonly after: FlashStats;
}

/** v2 of the firmware plus a module nobody imports, to make an image of about `bytes`. */
async function ballastPackage(bytes: number): Promise<{ zip: Buffer; app: Buffer }> {
  const base = (await testFirmware()).v2.app.length;
  const ballast = `export default "${"x".repeat(bytes - base)}";\n`;
  const built = await buildFirmwarePackage({ version: "3.0.0-flash-bound", firmwareOverride: [["ballast", ballast]] });
  return { zip: built.zip, app: built.app };
}

async function timeUpdate(zip: Buffer, flashTiming: FlashTiming): Promise<UpdateRun> {
  const bench = await startBench("real", { flashTiming });
  const server = await servePackages({ "/fw.zip": file(zip) });
  try {
    const before = await bench.board.flashStats();
    await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 120_000 });
    const after = await bench.board.flashStats();
    return { boardUs: after.now_us - before.now_us, before, after };
  } finally {
    await server.close();
    await bench.close();
  }
}

const ms = (ns: number) => Math.round(ns / 1e4) / 100;
const delta = (run: UpdateRun, key: keyof FlashStats) => run.after[key] - run.before[key];

async function run(): Promise<Figure[]> {
  const { zip, app } = await ballastPackage(IMAGE_BYTES);
  const table = flashTimingTable();
  const bound = flashBoundNs(table, app.length);
  const boundNs = bound.eraseNs + bound.programNs;

  const timed = await timeUpdate(zip, "typical");
  const untimed = await timeUpdate(zip, "off");
  const boardNs = timed.boardUs * 1000;
  const modelled = { erase: delta(timed, "erase_ns"), program: delta(timed, "program_ns"), read: delta(timed, "read_ns") };
  const modelledNs = modelled.erase + modelled.program + modelled.read;
  return [
    {
      name: "ota-update-flash-bound",
      value: boardNs / 1e9,
      unit: "s",
      limit: boundNs / 1e9,
      limitName: `flash-bound time of the ${app.length}-byte image: erase + program once, typical W25Q32JV (host/vboard/idf/include/vb_idf.h)`,
      ratio: boardNs / boundNs,
      better: "lower",
      goal: "<= 1.1",
      detail: {
        clock: "real (the board waits for the model's time)",
        package_bytes: zip.length,
        image_bytes: app.length,
        board_ms: ms(boardNs),
        flash_bound_ms: { erase: ms(bound.eraseNs), program: ms(bound.programNs) },
        modelled_flash_ms: { erase: ms(modelled.erase), program: ms(modelled.program), read: ms(modelled.read) },
        beyond_bound_ms: {
          erase: ms(modelled.erase - bound.eraseNs),
          program: ms(modelled.program - bound.programNs),
          read: ms(modelled.read),
          cpu_and_network: ms(boardNs - modelledNs),
        },
        flash_activity: {
          bytes_written: delta(timed, "write_bytes"),
          writes: delta(timed, "writes"),
          bytes_erased: delta(timed, "erased_bytes"),
          erase_commands: delta(timed, "erases"),
          bytes_read: delta(timed, "read_bytes"),
          image_read_passes: Math.round((delta(timed, "read_bytes") / app.length) * 100) / 100,
        },
        why: {
          erase: "one otadata sector erased for the boot switch",
          program: "the boot switch's small writes, otadata and the boot record in NVS (the app goes to flash in whole 4 KB sectors, so no page is programmed twice)",
          read: "the image read back twice, by ESP-IDF: esp_ota_end's image check and esp_ota_set_boot_partition's (the updater takes the manifest's SHA-1 and SHA-256 as the bytes are written, which esp_ota_end's check of the appended SHA-256 vouches for)",
        },
        board_ms_with_timing_off: untimed.boardUs / 1000,
      },
    },
  ];
}

export const flashBound: Benchmark = { title: "OTA.Update of a 1.5 MB package against the flash's erase + program time", run };

if (isMain(import.meta.url)) await runStandalone(flashBound);
