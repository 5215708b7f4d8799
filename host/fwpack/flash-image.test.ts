import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildAppImage, verifyAppImage } from "./app-image.js";
import { DEFAULT_FLASH_SIZE, buildFactoryFlash, firstBootPartition } from "./flash-image.js";
import { decodeOtadata } from "./otadata.js";
import { decodePartitionTable, encodePartitionTable } from "./partition-table.js";
import { parsePartitionsCsv } from "./partitions-csv.js";
import { buildVirtualBoardImage } from "./virtual-board-image.js";

const partitionsCsv = readFileSync(new URL("../../boards/virtual/partitions.csv", import.meta.url), "utf8");
const app = buildVirtualBoardImage({ version: "1.0.0", projectName: "xs-ota", modules: [["main", "trace('hi');\n"]] });

describe("factory flash image", () => {
  it("is 4 MB of 0xFF with the table at 0x8000, blank otadata and NVS, the app in ota_0", () => {
    const flash = buildFactoryFlash({ partitionsCsv, app });
    assert.equal(flash.length, DEFAULT_FLASH_SIZE);
    const table = decodePartitionTable(flash.subarray(0x8000, 0x9000), { flashSize: flash.length });
    assert.equal(table.md5, true);
    assert.deepEqual(table.partitions, parsePartitionsCsv(partitionsCsv));
    assert.ok(flash.subarray(0x8000, 0x8c00).equals(encodePartitionTable(table.partitions)));
    assert.ok(flash.subarray(0x8c00, 0x9000).every((b) => b === 0xff));
    assert.ok(flash.subarray(0, 0x8000).every((b) => b === 0xff));
    assert.ok(flash.subarray(0x9000, 0xd000).every((b) => b === 0xff)); // nvs
    assert.ok(flash.subarray(0xd000, 0xf000).every((b) => b === 0xff)); // otadata
    assert.equal(decodeOtadata(flash.subarray(0xd000, 0xf000)).active, -1);
    assert.ok(flash.subarray(0x10000, 0x10000 + app.length).equals(app));
    assert.ok(flash.subarray(0x10000 + app.length).every((b) => b === 0xff));
    const slot = verifyAppImage(flash.subarray(0x10000, 0x190000), { partitionSize: 0x180000, flashOffset: 0x10000 });
    assert.equal(slot.modules?.get("main"), "trace('hi');\n");
  });

  it("puts the app in factory when the table has one (what a blank otadata boots)", () => {
    const csv = "nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nfactory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n";
    assert.equal(firstBootPartition(parsePartitionsCsv(csv))?.name, "factory");
    const flash = buildFactoryFlash({ partitionsCsv: csv, app });
    assert.ok(flash.subarray(0x10000, 0x10000 + app.length).equals(app));
    assert.ok(flash.subarray(0x110000, 0x110000 + 16).every((b) => b === 0xff));
  });

  it("honours another flash size", () => {
    assert.equal(buildFactoryFlash({ partitionsCsv, app, flashSize: 8 * 1024 * 1024 }).length, 8 * 1024 * 1024);
    assert.throws(() => buildFactoryFlash({ partitionsCsv, app, flashSize: 2 * 1024 * 1024 }), {
      name: "PartitionTableError",
      message: 'partition "ota_1" (0x190000..0x310000) ends beyond the flash size 0x200000',
    });
    assert.throws(() => buildFactoryFlash({ partitionsCsv, app, flashSize: 1000 }), {
      name: "FlashImageError",
      message: "flash size 1000 is not a positive multiple of 4 KB",
    });
  });

  it("refuses an app that does not fit the slot", () => {
    const small = "nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nota_0,app,ota_0,,0x1000\nota_1,app,ota_1,,0x1000\n";
    const big = buildVirtualBoardImage({ version: "1", projectName: "p", modules: [["main", "x".repeat(0x1000)]] });
    assert.equal(big.length, 0x1170);
    assert.throws(() => buildFactoryFlash({ partitionsCsv: small, app: big }), {
      name: "FlashImageError",
      message: 'app of 0x1170 bytes does not fit partition "ota_0" (0x1000 bytes)',
    });
    buildFactoryFlash({ partitionsCsv: small, app });
  });

  it("refuses an app that does not verify", () => {
    const broken = Buffer.from(app);
    broken[40] ^= 0xff;
    assert.throws(() => buildFactoryFlash({ partitionsCsv, app: broken }), {
      name: "FlashImageError",
      message: /^app for partition "ota_0" is not a valid image: checksum mismatch: stored 0x[0-9A-F]{2}, computed 0x[0-9A-F]{2}$/,
    });
    const noDesc = buildAppImage({ segments: [{ loadAddr: 0x3ffb0000, data: Buffer.alloc(4) }] });
    assert.throws(() => buildFactoryFlash({ partitionsCsv, app: noDesc }), {
      message: 'app for partition "ota_0" is not a valid image: esp_app_desc_t truncated: 4 bytes, need 256',
    });
  });

  it("refuses a table with no app partition to boot", () => {
    assert.throws(() => buildFactoryFlash({ partitionsCsv: "nvs,data,nvs,,0x4000\n", app }), {
      message: "the partition table has no factory or ota_0 app partition to hold the app",
    });
  });
});
