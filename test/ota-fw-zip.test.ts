// A mos-complete fw.zip (boot, pt, otadata and app, as `mos flash` needs it)
// sent to a running board, pushed (xs-ota ota, as mos ota) and pulled
// (OTA.Update): the board writes the app into its other slot and nothing
// else. The package's boot, pt and otadata all differ from the board's, so a
// write of any of them would show in the flash below the first app slot.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { packageAppImage } from "../host/fwpack/app-package.ts";
import { buildAppImage, encodePartitionTable, otadataBootingSlot, parsePartitionsCsv } from "../host/fwpack/index.ts";
import { REPO_ROOT } from "../host/vboard/assets.ts";
import { runCli } from "./run-cli.ts";
import { file, servePackages, startBench, testFirmware, type Bench } from "./ota-rig.ts";

const OTA_0 = 0x10000;
const OTA_1 = 0x190000;

/** v2's app with flash parts unlike the board's: a bootloader image, the ESP32 board's table, otadata booting slot 0. */
async function mosCompletePackage(): Promise<{ zip: Buffer; app: Buffer }> {
  const { app } = (await testFirmware()).v2;
  const boot = buildAppImage({ segments: [{ loadAddr: 0x3fff0030, data: Buffer.alloc(0x4000, 0x5a) }] });
  const pt = encodePartitionTable(parsePartitionsCsv(fs.readFileSync(path.join(REPO_ROOT, "boards/esp32/partitions.csv"), "utf8")));
  const { zip } = packageAppImage(app, { flash: { boot: { data: boot, addr: 0x1000 }, pt, otadata: otadataBootingSlot(0) } });
  return { zip, app };
}

describe("OTA with a mos-complete fw.zip: the app goes to the other slot, boot, pt and otadata are not written", function () {
  this.timeout(120_000);
  let bench: Bench;
  let pkg: { zip: Buffer; app: Buffer };
  let below: Buffer;

  before(async () => (pkg = await mosCompletePackage()));
  beforeEach(async () => {
    bench = await startBench();
    below = flash().subarray(0, OTA_0);
  });
  afterEach(() => bench.close());

  const flash = () => fs.readFileSync(bench.board.options.flashPath);

  /** The board runs v2 from ota_1; bootloader region and partition table are as they were; each flash part was skipped. */
  async function expectOnlyTheApp(): Promise<void> {
    assert.equal(((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "2.0.0");
    const after = flash();
    assert.deepEqual(after.subarray(0, 0x9000), below.subarray(0, 0x9000), "bootloader region and partition table unchanged");
    assert.deepEqual(after.subarray(OTA_1, OTA_1 + pkg.app.length), pkg.app);
    for (const part of ["boot", "pt", "otadata"]) assert.match(bench.console(), new RegExp(`package part ${part} skipped`));
  }

  it("pushed with xs-ota ota", async () => {
    const zipFile = path.join(bench.dir, "fw.zip");
    fs.writeFileSync(zipFile, pkg.zip);
    const booted = bench.nextBoot();
    const r = await runCli(["--port", bench.board.httpUrl, "ota", zipFile, "--commit-timeout", "0"]);
    assert.equal(r.code, 0, r.stderr);
    await bench.board.advanceClock(200);
    await booted;
    await expectOnlyTheApp();
  });

  it("pulled with OTA.Update", async () => {
    const server = await servePackages({ "/fw.zip": file(pkg.zip) });
    try {
      const booted = bench.nextBoot();
      assert.equal(await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }), null);
      await bench.board.advanceClock(200);
      await booted;
      await expectOnlyTheApp();
    } finally {
      await server.close();
    }
  });
});
