// xs-ota flash against the virtual board, as against a board on a bench: the
// command speaks esptool-js over the board's pseudo-terminal, the board's ROM
// loader (host/vboard/download-mode.ts) answers, and the board then boots what
// was written.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageAppImage } from "../host/fwpack/app-package.ts";
import { ChipId, buildAppImage, encodePartitionTable, parseAppImage, parsePartitionsCsv } from "../host/fwpack/index.ts";
import { MANIFEST, PARTITIONS_CSV, buildBoardProgram, firmwareVersion } from "../host/vboard/assets.ts";
import { buildFirmwareImage } from "../host/vboard/firmware.ts";
import { VirtualBoard } from "../host/vboard/supervisor.ts";
import { openPtyPair } from "./pty-pair.ts";
import { runCli } from "./run-cli.ts";

const OTA_1 = 0x190000;

interface Bench {
  board: VirtualBoard;
  dir: string;
  console(): string;
  close(): Promise<void>;
}

/** A virtual board whose flash file does not exist yet: a chip fresh from the factory, held in download mode. */
async function blankBoard(download: { flipByteAt?: number } = {}): Promise<Bench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-flash-"));
  const board = new VirtualBoard({ binary: buildBoardProgram(), flashPath: path.join(dir, "flash.bin"), httpPort: 0, uartLink: path.join(dir, "uart"), clock: "real", download });
  let log = "";
  board.on("console", (t) => (log += t));
  await board.start({ downloadMode: true });
  return {
    board,
    dir,
    console: () => log,
    close: async () => {
      await board.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("xs-ota flash (esptool-js against the virtual board's ROM loader)", function () {
  this.timeout(60_000);
  let appFile: string;
  let appDir: string;

  before(async () => {
    buildBoardProgram();
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-flash-app-"));
    appFile = path.join(appDir, "app.bin");
    fs.writeFileSync(appFile, await buildFirmwareImage({ manifestPath: MANIFEST, version: firmwareVersion() }));
  });
  after(() => fs.rmSync(appDir, { recursive: true, force: true }));

  describe("a fresh board", () => {
    let bench: Bench;
    before(async () => (bench = await blankBoard()));
    after(() => bench?.close());

    it("is flashed with the repository's firmware over its UART, boots it and answers RPC.List there", async () => {
      assert.match(bench.console(), /boot:0x3 \(DOWNLOAD_BOOT\(UART0\/UART1\/SDIO_REI_REO_V2\)\)\nwaiting for download/);
      const r = await runCli(["--port", bench.board.uartPath, "flash"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      for (const what of ["partition table at 0x8000", "otadata at 0xD000", "app (ota_0) at 0x10000"]) assert.match(r.stderr, new RegExp(`wrote ${what.replace(/[()]/g, "\\$&")} .*MD5 verified`));
      assert.match(r.stderr, /flashed virtual board \(ESP32-D0WD-V3 \(revision 3\) to esptool\), MAC 24:0a:c4(:[0-9a-f]{2}){3}: 3 images/);
      assert.match(bench.console(), /\[rom\] flasher stub running[\s\S]*leaving download mode: the stub's RUN_USER_CODE/);
      const ready = await bench.board.waitReady();
      // The MAC esptool read from the eFuses is the board's own.
      assert.equal(ready.deviceId.slice(6).toLowerCase(), /MAC 24:0a:c4:(\w\w):(\w\w):(\w\w)/.exec(r.stderr)!.slice(1).join(""));
      const list = await runCli(["--port", bench.board.uartPath, "call", "RPC.List"]);
      assert.equal(list.code, 0, list.stderr);
      assert.ok((JSON.parse(list.stdout) as string[]).includes("OTA.Update"));
    });

    it("--erase: a running board is reset into download mode by the SYNC, the whole chip erased, then flashed", async () => {
      const board = bench.board;
      await board.powerOff();
      const marker = Buffer.alloc(16, 0xa5);
      const fd = fs.openSync(board.options.flashPath, "r+");
      fs.writeSync(fd, marker, 0, marker.length, OTA_1);
      fs.closeSync(fd);
      board.boot();
      await board.waitReady();
      const mark = bench.console().length;
      const r = await runCli(["--port", board.uartPath, "flash", "--erase", "--baud", "921600", "--image", appFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(bench.console().slice(mark), /waiting for download[\s\S]*\[rom\] stub: chip erased/);
      await board.waitReady();
      const flash = fs.readFileSync(board.options.flashPath);
      assert.ok(flash.subarray(OTA_1, OTA_1 + 16).every((b) => b === 0xff), "the erase reached ota_1");
      assert.deepEqual(flash.subarray(0x10000, 0x10000 + fs.statSync(appFile).size), fs.readFileSync(appFile));
    });

    it("--verify compares each image with the flash by MD5, writes nothing, and exits 1 when one differs", async () => {
      const board = bench.board;
      await board.waitReady();
      const same = await runCli(["--port", board.uartPath, "flash", "--verify", "--image", appFile]);
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /^skipped {3}otadata at 0xD000 .*: the boot state, which the board writes\n/m);
      assert.match(same.stdout, /^same {6}partition table at 0x8000 .*: flash ([0-9a-f]{32}), file \1\n/m);
      assert.match(same.stdout, /^same {6}app \(ota_0\) at 0x10000 .*: flash ([0-9a-f]{32}), file \1\n/m);
      assert.match(same.stderr, /verified virtual board .*: 2 of 2 images match; /);
      await board.waitReady();

      const changed = path.join(appDir, "other-version.bin");
      fs.writeFileSync(changed, await buildFirmwareImage({ manifestPath: MANIFEST, version: "9.9.9-verify" }));
      const before = fs.readFileSync(board.options.flashPath);
      const differs = await runCli(["--port", board.uartPath, "flash", "--verify", "--image", changed]);
      assert.equal(differs.code, 1, differs.stderr);
      assert.match(differs.stdout, /^DIFFERENT app \(ota_0\) at 0x10000 .*: flash [0-9a-f]{32}, file [0-9a-f]{32}\n/m);
      assert.match(differs.stderr, /^error: 1 of 2 images match: app \(ota_0\) differs from the flash\n$/m);
      await board.waitReady();
      assert.ok(fs.readFileSync(board.options.flashPath).equals(before), "verify wrote nothing");
    });

    it("--read reads regions back into files, each checked by the stub's MD5; bad specs are usage errors", async () => {
      const board = bench.board;
      await board.waitReady();
      const pt = path.join(appDir, "pt.bin");
      const otadata = path.join(appDir, "otadata.bin");
      const r = await runCli(["--port", board.uartPath, "flash", "--read", `0x8000:0xc00:${pt}`, "--read", `${0xd000}:8192:${otadata}`]);
      assert.equal(r.code, 0, r.stderr);
      const flash = fs.readFileSync(board.options.flashPath);
      assert.deepEqual(fs.readFileSync(pt), flash.subarray(0x8000, 0x8c00));
      assert.deepEqual(fs.readFileSync(otadata), flash.subarray(0xd000, 0xf000));
      assert.match(r.stderr, /read 0x8000\.\.0x8c00 \(3072 bytes, MD5-checked\) into .*pt\.bin\nread 0xd000\.\.0xf000 \(8192 bytes, MD5-checked\)/);
      await board.waitReady();

      for (const [args, message] of [
        [["--read", "0x8000:pt.bin"], /not ADDRESS:SIZE:FILE: 0x8000:pt\.bin/],
        [["--read", "0x8000:zero:pt.bin"], /the size of 0x8000:zero:pt\.bin is not a number/],
        [["--read", "0x8000:0xc00:pt.bin", "--image", appFile], /--read reads only/],
      ] as const) {
        const bad = await runCli(["--port", board.uartPath, "flash", ...args]);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, message);
      }
    });
  });

  describe("a fresh board, from the fw.zip of xs-ota build (every part at its addr or ptn, as mos flash writes it)", () => {
    let bench: Bench;
    let zipFile: string;
    before(async () => {
      bench = await blankBoard();
      const built = await runCli(["build", "--version", "3.1.0", "--out", path.join(appDir, "pkg")]);
      assert.equal(built.code, 0, built.stderr);
      zipFile = path.join(appDir, "pkg/fw.zip");
    });
    after(() => bench?.close());

    it("writes partition table, otadata and app from the package, and the board boots the package's version", async () => {
      const r = await runCli(["--port", bench.board.uartPath, "flash", "--image", zipFile]);
      assert.equal(r.code, 0, r.stderr);
      for (const what of ["partition table at 0x8000 \\(3072 bytes\\)", "otadata at 0xD000 \\(8192 bytes\\)", "app \\(ota_0\\) at 0x10000"]) assert.match(r.stderr, new RegExp(`wrote ${what}.*MD5 verified`));
      assert.match(r.stderr, /flashed virtual board \(ESP32-D0WD-V3 \(revision 3\) to esptool\), MAC [0-9a-f:]{17}: 3 images/);
      assert.equal((await bench.board.waitReady()).version, "3.1.0");
      const flash = fs.readFileSync(bench.board.options.flashPath);
      const pt = Buffer.from(encodePartitionTable(parsePartitionsCsv(fs.readFileSync(PARTITIONS_CSV, "utf8"))));
      assert.deepEqual(flash.subarray(0x8000, 0x8000 + pt.length), pt);
      const info = await runCli(["--port", bench.board.uartPath, "call", "Sys.GetInfo"]);
      assert.equal(JSON.parse(info.stdout).fw_version, "3.1.0");
    });

    it("refuses a package made for OTA only, as mos flash does: it has no partition table to place the app by", async () => {
      const otaOnly = path.join(appDir, "ota-only.zip");
      fs.writeFileSync(otaOnly, packageAppImage(fs.readFileSync(appFile)).zip);
      const r = await runCli(["--port", bench.board.uartPath, "flash", "--image", otaOnly]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /ota-only\.zip: no partition table in the fw bundle \(part "pt"\), needed to place part "app" in partition "ota_0"/);
    });
  });

  it("catches a transfer the flash corrupted by its MD5 check: a clear error and exit status 1", async () => {
    const bench = await blankBoard({ flipByteAt: 0x10000 + 0x100 });
    try {
      const r = await runCli(["--port", bench.board.uartPath, "flash", "--image", appFile]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: MD5 mismatch for the app \(ota_0\) at 0x10000: the flash holds [0-9a-f]{32}, the file [0-9a-f]{32}\. The transfer was corrupted/);
      assert.doesNotMatch(r.stderr, /flashed/);
    } finally {
      await bench.close();
    }
  });

  it("says when nothing answers the SYNC, and when the port is not there", async () => {
    const pty = await openPtyPair();
    try {
      const silent = await runCli(["--port", pty.host, "flash", "--connect-attempts", "1", "--image", appFile]);
      assert.equal(silent.code, 1);
      assert.match(silent.stderr, new RegExp(`error: no answer to SYNC on ${pty.host}: is the board in download mode\\?`));
    } finally {
      await pty.close();
    }
    const missing = await runCli(["--port", "/dev/ttyNOSUCH9", "flash", "--image", appFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: cannot open serial port \/dev\/ttyNOSUCH9: no such device/);
  });

  it("refuses an app for a real ESP32 before writing anything (exit status 2): the board is told apart by its eFuse mark", async () => {
    const esp32App = path.join(appDir, "esp32-app.bin");
    fs.writeFileSync(esp32App, buildAppImage({ segments: parseAppImage(fs.readFileSync(appFile)).segments, header: { chipId: ChipId.ESP32 } }));
    const bench = await blankBoard();
    try {
      const r = await runCli(["--port", bench.board.uartPath, "flash", "--image", esp32App]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error: the images are built for chip id 0 \(ESP32\), but the board is a virtual board \(chip id 16982\): nothing was written\n/);
      assert.doesNotMatch(bench.console(), /\[rom\] (flasher stub running|.*write|.*erase)/i);
      assert.ok(!fs.existsSync(bench.board.options.flashPath) || fs.readFileSync(bench.board.options.flashPath).every((b) => b === 0xff), "the flash is still blank");
    } finally {
      await bench.close();
    }
  });

  it("refuses a port that is not serial (exit status 2; what makes an image is host/flash/flash-plan.test.ts's)", async () => {
    const http = await runCli(["--port", "http://127.0.0.1:1/rpc", "flash", "--image", appFile]);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /flashing needs the board's serial port, not http:\/\/127\.0\.0\.1:1\/rpc/);
  });
});
