// xs-ota build --board esp32: a Moddable ESP32 build directory packaged as a
// mos-format fw.zip with the ESP32 parts, which fwinfo accepts and which a
// board updates from (its app only: pt and otadata are for flashers).

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { blankOtadata, encodePartitionTable, parsePartitionsCsv } from "../fwpack/index.ts";
import { PARTITIONS_CSV } from "../vboard/assets.ts";
import { runCli } from "../../test/run-cli.ts";
import { startBench, testFirmware } from "../../test/ota-rig.ts";

describe("xs-ota build --board esp32", function () {
  this.timeout(120_000);
  let dir: string;
  let idfBuild: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-esp32-"));
    // The layout mcconfig's ESP-IDF project leaves in xsProj-esp32/build; the
    // app is an ESP32 image (the virtual board's firmware stands in for it).
    idfBuild = path.join(dir, "build");
    fs.mkdirSync(path.join(idfBuild, "bootloader"), { recursive: true });
    fs.mkdirSync(path.join(idfBuild, "partition_table"), { recursive: true });
    fs.writeFileSync(path.join(idfBuild, "xs_esp32.bin"), (await testFirmware()).v2.app);
    fs.writeFileSync(path.join(idfBuild, "bootloader/bootloader.bin"), Buffer.alloc(0x6000, 0xe9));
    fs.writeFileSync(path.join(idfBuild, "partition_table/partition-table.bin"), encodePartitionTable(parsePartitionsCsv(fs.readFileSync(PARTITIONS_CSV, "utf8"))));
    fs.writeFileSync(path.join(idfBuild, "ota_data_initial.bin"), blankOtadata());
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

  it("updates a board from the package: the app goes to the other slot, pt and otadata are left alone", async () => {
    const out = path.join(dir, "pkg2");
    assert.equal((await runCli(["build", "--board", "esp32", "--moddable-out", idfBuild, "--out", out])).code, 0);
    const bench = await startBench();
    try {
      const r = await runCli(["--port", bench.board.httpUrl, "ota", path.join(out, "fw.zip"), "--commit-timeout", "0"]);
      assert.equal(r.code, 0, r.stderr);
      const booted = bench.nextBoot();
      await bench.board.advanceClock(200);
      await booted;
      assert.equal(((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "2.0.0");
      assert.match(bench.console(), /skip/i);
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
