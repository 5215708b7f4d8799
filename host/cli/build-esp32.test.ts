// xs-ota build --board esp32: a Moddable ESP32 build directory packaged as a
// mos-format fw.zip with the ESP32 parts, which fwinfo accepts and which a
// the virtual board refuses before anything is sent: it is another chip.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildAppImage, blankOtadata, encodePartitionTable, parseAppImage, parsePartitionsCsv } from "../fwpack/index.ts";
import { ESP32_BOARDS, type Esp32Board } from "../fwpack/moddable-package.ts";
import { PARTITIONS_CSV } from "../vboard/assets.ts";
import { runCli } from "../../test/run-cli.ts";
import { startBench, testFirmware } from "../../test/ota-rig.ts";

describe("xs-ota build --board esp32", function () {
  this.timeout(120_000);
  let dir: string;
  let idfBuild: string;
  /**
   * The layout mcconfig's ESP-IDF project leaves in xsProj-<board>/build. The
   * app stands in for the board's: the virtual board's firmware, its segments
   * in an image with the board's chip id (its own, 0x4256, no board takes).
   */
  async function fakeBuild(board: Esp32Board): Promise<string> {
    const build = path.join(dir, `build-${board}`);
    fs.mkdirSync(path.join(build, "bootloader"), { recursive: true });
    fs.mkdirSync(path.join(build, "partition_table"), { recursive: true });
    const { segments } = parseAppImage((await testFirmware()).v2.app);
    fs.writeFileSync(path.join(build, "xs_esp32.bin"), buildAppImage({ segments, header: { chipId: ESP32_BOARDS[board].chipId } }));
    fs.writeFileSync(path.join(build, "bootloader/bootloader.bin"), Buffer.alloc(0x6000, 0xe9));
    fs.writeFileSync(path.join(build, "partition_table/partition-table.bin"), encodePartitionTable(parsePartitionsCsv(fs.readFileSync(PARTITIONS_CSV, "utf8"))));
    fs.writeFileSync(path.join(build, "ota_data_initial.bin"), blankOtadata());
    return build;
  }
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-esp32-"));
    idfBuild = await fakeBuild("esp32");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("packages boot, pt, otadata and app with their addresses, and fwinfo checks them", async () => {
    const out = path.join(dir, "pkg");
    const r = await runCli(["build", "--board", "esp32", "--moddable-out", idfBuild, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /packaged xs-ota 2\.0\.0 for esp32\n {2}build_id {2}\d{8}-\d{6}\/2\.0\.0\n {2}parts {5}boot, pt, otadata, app/);
    const info = await runCli(["fwinfo", path.join(out, "fw.zip"), "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const manifest = JSON.parse(info.stdout).manifest;
    assert.equal(manifest.platform, "esp32");
    assert.deepEqual(
      Object.fromEntries(Object.entries(manifest.parts as Record<string, Record<string, unknown>>).map(([k, v]) => [k, [v.addr ?? v.ptn, v.src]])),
      { boot: [0x1000, "bootloader.bin"], pt: [0x8000, "partition-table.bin"], otadata: ["otadata", "ota_data_initial.bin"], app: ["ota_0", "xs_esp32.bin"] },
    );
    assert.equal(manifest.parts.boot.update, false);
  });

  it("refuses an image built for another chip (an esp32s3 package needs chip id 9)", async () => {
    const r = await runCli(["build", "--board", "esp32s3", "--moddable-out", idfBuild, "--out", path.join(dir, "s3")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /image is for chip id 0, expected 9/);
  });

  for (const board of ["esp32s3", "esp32c3"] as const) {
    it(`packages an ${board} build, its bootloader at 0x0`, async () => {
      const out = path.join(dir, `pkg-${board}`);
      const r = await runCli(["build", "--board", board, "--moddable-out", await fakeBuild(board), "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      const info = await runCli(["fwinfo", path.join(out, "fw.zip"), "--json"]);
      assert.equal(info.code, 0, info.stderr);
      assert.equal(JSON.parse(info.stdout).manifest.parts.boot.addr, 0);
    });
  }

  it("is not sent to the virtual board, which is another chip (exit status 2, its boot state unchanged)", async () => {
    const out = path.join(dir, "pkg2");
    assert.equal((await runCli(["build", "--board", "esp32", "--moddable-out", idfBuild, "--out", out])).code, 0);
    const bench = await startBench();
    try {
      const before = [await bench.rpc.call("OTA.GetBootState"), await bench.rpc.call("OTA.Status")];
      const r = await runCli(["--port", bench.board.httpUrl, "ota", path.join(out, "fw.zip"), "--commit-timeout", "0"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /fw\.zip is built for chip id 0 \(ESP32\), the device is 16982 \(virtual board\): nothing was sent/);
      assert.deepEqual([await bench.rpc.call("OTA.GetBootState"), await bench.rpc.call("OTA.Status")], before);
      assert.equal(((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "1.0.0");
    } finally {
      await bench.close();
    }
  });

  it("says what is missing in a directory that is not a build", async () => {
    const r = await runCli(["build", "--board", "esp32", "--moddable-out", dir, "--out", path.join(dir, "x")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no xs_esp32\.bin: is it the build directory of a Moddable ESP32 build/);
  });
});
