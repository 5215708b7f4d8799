import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { encodePartitionTable } from "./partition-table.js";
import { formatPartitionsCsv, parsePartitionsCsv } from "./partitions-csv.js";

const boardCsv = readFileSync(new URL("../../boards/virtual/partitions.csv", import.meta.url), "utf8");

describe("partitions.csv", () => {
  it("reads boards/virtual/partitions.csv into the layout of host/vboard/README.md", () => {
    const rows = parsePartitionsCsv(boardCsv).map((p) => [p.name, p.type, p.subtype, p.offset, p.size, p.flags]);
    assert.deepEqual(rows, [
      ["nvs", 1, 2, 0x9000, 0x4000, 0],
      ["otadata", 1, 0, 0xd000, 0x2000, 0],
      ["phy_init", 1, 1, 0xf000, 0x1000, 0],
      ["ota_0", 0, 0x10, 0x10000, 0x180000, 0],
      ["ota_1", 0, 0x11, 0x190000, 0x180000, 0],
    ]);
    const table = encodePartitionTable(parsePartitionsCsv(boardCsv));
    assert.equal(createHash("sha256").update(table).digest("hex"), "0241fa0d2e573dee86756e39fb4181e61ff7218087619cab565b602df55954d6");
  });

  it("places empty offsets after the previous partition, aligned for the type (IDF's two-OTA layout)", () => {
    const csv = [
      "# Name,   Type, SubType, Offset,  Size, Flags",
      "nvs,      data, nvs,     ,        0x4000,",
      "otadata,  data, ota,     ,        0x2000",
      "phy_init, data, phy,     ,        0x1000",
      "factory,  app,  factory, ,        1M",
      "ota_0,    app,  ota_0,   ,        1M",
      "ota_1,    app,  ota_1,   ,        1M",
    ].join("\n");
    assert.deepEqual(
      parsePartitionsCsv(csv).map((p) => [p.name, p.offset]),
      [["nvs", 0x9000], ["otadata", 0xd000], ["phy_init", 0xf000], ["factory", 0x10000], ["ota_0", 0x110000], ["ota_1", 0x210000]],
    );
  });

  it("aligns an app after a data partition up to 64 KB", () => {
    const parts = parsePartitionsCsv("nvs,data,nvs,,0x5000\notadata,data,ota,,0x2000\nota_0,app,ota_0,,64K\n");
    assert.deepEqual(parts.map((p) => p.offset), [0x9000, 0xe000, 0x10000]);
  });

  it("reads numbers as gen_esp32part does: hex, decimal, octal, binary, K and M suffixes", () => {
    const parts = parsePartitionsCsv(
      ["a,data,0x99,0x9000,16K", "b,data,153,0xd000,4k", "c,data,0o231,61440,0b1000000000000", "d,0x40,1,0x100000,1m"].join("\n"),
    );
    assert.deepEqual(parts.map((p) => [p.type, p.subtype, p.offset, p.size]), [
      [1, 0x99, 0x9000, 0x4000],
      [1, 153, 0xd000, 0x1000],
      [1, 0o231, 61440, 0x1000],
      [0x40, 1, 0x100000, 0x100000],
    ]);
  });

  it("takes keywords in any case, a default data subtype, flags, a UTF-8 BOM, CRLF and a negative size as an end address", () => {
    const csv = "\uFEFFstorage, DATA, SpiFFS, 0x9000, 0x3000, encrypted:readonly\r\nraw, data, , , -0x10000\r\n";
    const parts = parsePartitionsCsv(csv);
    assert.deepEqual(parts.map((p) => [p.name, p.type, p.subtype, p.offset, p.size, p.flags]), [
      ["storage", 1, 0x82, 0x9000, 0x3000, 3],
      ["raw", 1, 0x06, 0xc000, 0x4000, 0],
    ]);
  });

  it("places primary bootloader and partition-table entries where the ESP32 has them", () => {
    const parts = parsePartitionsCsv("bl, bootloader, primary, , \npt, partition_table, primary, ,\nnvs, data, nvs, , 0x3000\nbl_ota, bootloader, ota, , 1M\n");
    assert.deepEqual(parts.map((p) => [p.name, p.offset, p.size]), [
      ["bl", 0x1000, 0x7000],
      ["pt", 0x8000, 0x1000],
      ["nvs", 0x9000, 0x3000],
      ["bl_ota", 0xc000, 0x7000],
    ]);
  });

  it("honours another table offset", () => {
    const parts = parsePartitionsCsv("nvs,data,nvs,,0x6000\n", { tableOffset: 0x10000 });
    assert.equal(parts[0]!.offset, 0x11000);
  });

  describe("errors name the line", () => {
    const cases: Array<[string, string]> = [
      ["nvs, data, nvs, 0x9000", "partitions.csv line 1: the size is empty"],
      [", data, nvs, 0x9000, 0x4000", "partitions.csv line 1: the name is empty"],
      ["nvs, , nvs, 0x9000, 0x4000", "partitions.csv line 1: the type is empty"],
      ["# c\n\nnvs, dta, nvs, 0x9000, 0x4000", 'partitions.csv line 3: type "dta" is not valid; known keywords: app, data, bootloader, partition_table'],
      ["x, app, , 0x10000, 1M", "partitions.csv line 1: an app partition needs a subtype"],
      ["x, app, ota_16, 0x10000, 1M", 'partitions.csv line 1: subtype "ota_16" is not valid; known keywords: factory, test, ota_0, ota_1, ota_2, ota_3, ota_4, ota_5, ota_6, ota_7, ota_8, ota_9, ota_10, ota_11, ota_12, ota_13, ota_14, ota_15, tee_0, tee_1'],
      ["x, 0x40, fat, 0x10000, 1M", 'partitions.csv line 1: subtype "fat" is not a number'],
      ["nvs, data, nvs, 0x9000, 1.5M", 'partitions.csv line 1: size "1.5M" is not a number'],
      ["nvs, data, nvs, 010, 0x4000", 'partitions.csv line 1: offset "010" is not a number'],
      ["nvs, data, nvs, 0x9000, 0x4000, secure", 'partitions.csv line 1: unknown flag "secure" (known: encrypted, readonly)'],
      ["nvs, data, nvs, 0x9000, 0x4000, , extra", 'partitions.csv line 1: unexpected column "extra" after the flags'],
      ["nvs, data, nvs, $NVS_OFFSET, 0x4000", "partitions.csv line 1: environment variables ($NAME) are not supported"],
      ["x, bootloader, recovery, , ", "partitions.csv line 1: a recovery bootloader partition is not supported on the ESP32"],
      ["nvs, data, nvs, 0x8000, 0x4000", "partitions.csv line 1: offset 0x8000 overlaps the partition table sector at 0x8000; use 0x9000 or higher"],
      ["pt, partition_table, primary, ,\nnvs, data, nvs, 0x8000, 0x4000", "partitions.csv line 2: offset 0x8000 overlaps the partition table sector at 0x8000; use 0x9000 or higher"],
      ["nvs, data, nvs, 0x9000, 0x4000\nphy, data, phy, 0xc000, 0x1000", "partitions.csv line 2: offset 0xC000 overlaps the previous partition, which ends at 0xD000"],
      ["raw, data, , 0x10000, -0x10000", "partitions.csv line 1: end address 0x10000 is not after the offset 0x10000"],
    ];
    for (const [csv, message] of cases) {
      it(message, () => assert.throws(() => parsePartitionsCsv(csv), { name: "PartitionTableError", message }));
    }
  });

  it("validates by default, and not when asked", () => {
    const csv = "nvs, data, nvs, 0x9000, 0x1000";
    assert.throws(() => parsePartitionsCsv(csv), { message: /read-write NVS partition needs at least 0x3000/ });
    assert.equal(parsePartitionsCsv(csv, { validate: false })[0]!.size, 0x1000);
  });

  it("formats a table back into CSV that parses to the same table", () => {
    const parts = parsePartitionsCsv(boardCsv.replace("0x4000", "0x4000, readonly"));
    const text = formatPartitionsCsv(parts);
    assert.match(text, /^nvs, data, nvs, 0x9000, 16K, readonly$/m);
    assert.match(text, /^ota_1, app, ota_1, 0x190000, 1536K, $/m);
    assert.deepEqual(parsePartitionsCsv(text), parts);
  });
});
