// The real-board build as far as it can be checked without the Moddable SDK
// and ESP-IDF: the board folders mcconfig reads (manifest, sdkconfig
// fragments, partition table), and `make esp32`, which must say at once what
// is missing and otherwise call mcconfig as documented (here a stand-in that
// records how it was called).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parsePartitionsCsv } from "./fwpack/partitions-csv.ts";
import { validatePartitions } from "./fwpack/partition-layout.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BOARDS = ["esp32", "esp32s3", "esp32c3"] as const;
const FLASH_SIZE = 4 * 1024 * 1024;

function sdkconfig(file: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (m) options.set(m[1]!, m[2]!);
  }
  return options;
}

describe("ESP32 board folders", () => {
  for (const board of BOARDS) {
    describe(`boards/${board}`, () => {
      const dir = path.join(ROOT, "boards", board);

      it("names its chip, its sdkconfig folder and its partition table, and the RPC UART's pins", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
        assert.equal(manifest.build.ESP32_SUBCLASS, board);
        assert.equal(manifest.build.SDKCONFIGPATH, "./sdkconfig");
        assert.equal(manifest.build.PARTITIONS_FILE_FOR_TARGET, "./partitions.csv");
        assert.ok(fs.existsSync(path.join(dir, "sdkconfig", "sdkconfig.defaults")));
        assert.ok(Number.isInteger(manifest.config.rpcUartTransmit) && Number.isInteger(manifest.config.rpcUartReceive));
      });

      it("turns rollback, full image validation at boot and the panicking task watchdog on", () => {
        const options = sdkconfig(path.join(dir, "sdkconfig", "sdkconfig.defaults"));
        const expected: Record<string, string> = {
          CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: "y",
          CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS: "n",
          CONFIG_BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON: "n",
          CONFIG_PARTITION_TABLE_MD5: "y",
          CONFIG_ESPTOOLPY_FLASHSIZE_4MB: "y",
          CONFIG_ESP_TASK_WDT_EN: "y",
          CONFIG_ESP_TASK_WDT_INIT: "y",
          CONFIG_ESP_TASK_WDT_PANIC: "y",
          CONFIG_ESP_TASK_WDT_TIMEOUT_S: "5",
          CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0: "y",
          CONFIG_ESP_SYSTEM_PANIC_PRINT_REBOOT: "y",
        };
        for (const [key, value] of Object.entries(expected)) assert.equal(options.get(key), value, key);
        // Only the dual-core chips have a second idle task to watch.
        assert.equal(options.get("CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1"), board === "esp32c3" ? undefined : "y");
      });

      it("keeps UART0 free for RPC in release builds", () => {
        const options = sdkconfig(path.join(dir, "sdkconfig", "sdkconfig.defaults.release"));
        assert.equal(options.get("CONFIG_ESP_CONSOLE_NONE"), "y");
        assert.equal(options.get("CONFIG_LOG_DEFAULT_LEVEL_NONE"), "y");
        assert.equal(options.get("CONFIG_ESP_COREDUMP_ENABLE_TO_NONE"), "y");
      });

      it("lays out 4 MB as the virtual board does: nvs, otadata, phy_init and two OTA slots as large as fit", () => {
        const partitions = parsePartitionsCsv(fs.readFileSync(path.join(dir, "partitions.csv"), "utf8"));
        validatePartitions(partitions, { flashSize: FLASH_SIZE });
        assert.deepEqual(
          partitions.map((p) => p.name),
          ["nvs", "otadata", "phy_init", "ota_0", "ota_1"],
        );
        const [ota0, ota1] = [partitions[3]!, partitions[4]!];
        assert.equal(ota0.size, ota1.size);
        // Another 64 KB (the app alignment) per slot would not fit.
        assert.ok(ota1.offset + ota1.size + 2 * 0x10000 > FLASH_SIZE);
        const virtual = parsePartitionsCsv(fs.readFileSync(path.join(ROOT, "boards/virtual/partitions.csv"), "utf8"));
        assert.deepEqual(
          partitions.slice(0, 3).map((p) => [p.name, p.offset, p.size]),
          virtual.slice(0, 3).map((p) => [p.name, p.offset, p.size]),
        );
      });
    });
  }
});

/** `make esp32` with a clean environment plus `env`. */
function makeEsp32(args: string[], env: Record<string, string>) {
  const started = process.hrtime.bigint();
  const r = spawnSync("make", ["-s", "--no-print-directory", "esp32", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), ...env },
  });
  return { ...r, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

describe("make esp32", () => {
  it("fails within a second without the Moddable SDK, saying what to install", () => {
    const r = makeEsp32([], {});
    assert.notEqual(r.status, 0);
    assert.ok(r.ms < 1000, `took ${r.ms} ms`);
    assert.match(r.stderr, /needs the Moddable SDK 7\.x and ESP-IDF v5\.5\.1 \(MODDABLE is unset\)/);
    assert.match(r.stderr, /git clone -b 7\.2\.1 https:\/\/github\.com\/Moddable-OpenSource\/moddable/);
    assert.match(r.stderr, /git clone -b v5\.5\.1 --recursive https:\/\/github\.com\/espressif\/esp-idf/);
    assert.match(r.stderr, /export MODDABLE=/);
  });

  it("refuses an unknown board or mode before anything else", () => {
    assert.match(makeEsp32(["BOARD=esp32s2"], {}).stderr, /unknown BOARD=esp32s2: boards\/ has esp32 esp32s3 esp32c3/);
    assert.match(makeEsp32(["ESP32_MODE=fast"], {}).stderr, /unknown ESP32_MODE=fast: use debug, release or instrumented/);
  });

  describe("with a Moddable SDK and ESP-IDF in the environment", () => {
    let sdk: string;
    let bin: string;
    let record: string;
    before(() => {
      sdk = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-moddable-"));
      fs.mkdirSync(path.join(sdk, "build/devices/esp32"), { recursive: true });
      bin = path.join(sdk, "bin");
      fs.mkdirSync(bin);
      record = path.join(sdk, "mcconfig.log");
      // Stand-ins: mcconfig records its arguments, the board and which tsc it would run.
      fs.writeFileSync(path.join(bin, "mcconfig"), `#!/bin/sh\necho "$* | $XS_OTA_BOARD | $(command -v tsc)" >> ${JSON.stringify(record)}\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(bin, "idf.py"), "#!/bin/sh\n", { mode: 0o755 });
    });
    after(() => fs.rmSync(sdk, { recursive: true, force: true }));
    const env = () => ({ MODDABLE: sdk, IDF_PATH: sdk, PATH: `${bin}:${process.env.PATH}` });

    it("says when mcconfig or ESP-IDF's environment is missing", () => {
      assert.match(makeEsp32([], { MODDABLE: sdk, PATH: "/usr/bin:/bin" }).stderr, /mcconfig is not on PATH/);
      assert.match(makeEsp32([], { MODDABLE: sdk, PATH: `${bin}:${process.env.PATH}` }).stderr, /needs ESP-IDF v5\.5\.1 in the environment: source its export\.sh \(IDF_PATH is unset\)/);
    });

    it("builds and flashes a debug build of boards/esp32 by default, with the project's tsc", () => {
      fs.rmSync(record, { force: true });
      const r = makeEsp32([], env());
      assert.equal(r.status, 0, r.stderr);
      assert.equal(fs.readFileSync(record, "utf8"), `-d -m -p esp32 ./manifest.json | esp32 | ${path.join(ROOT, "node_modules/.bin/tsc")}\n`);
      assert.match(r.stdout, new RegExp(`app image: {2}${sdk}/build/bin/esp32/debug/xs-ota/xs_esp32\\.bin`));
      assert.match(r.stdout, new RegExp(`npx xs-ota build --board esp32 --moddable-out ${sdk}/build/tmp/esp32/debug/xs-ota/xsProj-esp32/build`));
    });

    it("passes the board, the mode, a make target and config settings through", () => {
      fs.rmSync(record, { force: true });
      const r = makeEsp32(["BOARD=esp32s3", "ESP32_MODE=release", "MC_TARGET=build", "MC_CONFIG=wifiSsid=lab mqttServer=10.0.0.5"], env());
      assert.equal(r.status, 0, r.stderr);
      assert.match(fs.readFileSync(record, "utf8"), /^-m -t build -p esp32\/esp32s3 wifiSsid=lab mqttServer=10\.0\.0\.5 \.\/manifest\.json \| esp32s3 \| /);
      assert.match(r.stdout, /build\/tmp\/esp32\/esp32s3\/release\/xs-ota\/xsProj-esp32s3\/build/);
    });
  });
});
