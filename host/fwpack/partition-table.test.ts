import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  PARTITION_COUNT_MAX,
  PARTITION_TABLE_MAX_LEN,
  decodePartitionTable,
  encodePartitionEntry,
  encodePartitionTable,
  type Partition,
} from "./partition-table.js";
import { PartitionFlag } from "./partition-types.js";

// boards/virtual/partitions.csv, as gen_esp32part.py would write it.
const VIRTUAL_BOARD_PARTITIONS: Partition[] = [
  { name: "nvs", type: 1, subtype: 2, offset: 0x9000, size: 0x4000, flags: 0 },
  { name: "otadata", type: 1, subtype: 0, offset: 0xd000, size: 0x2000, flags: 0 },
  { name: "phy_init", type: 1, subtype: 1, offset: 0xf000, size: 0x1000, flags: 0 },
  { name: "ota_0", type: 0, subtype: 0x10, offset: 0x10000, size: 0x180000, flags: 0 },
  { name: "ota_1", type: 0, subtype: 0x11, offset: 0x190000, size: 0x180000, flags: 0 },
];

// Computed independently with Python's struct.pack('<2sBBLL16sL', ...) and hashlib.
const GOLDEN_MD5 = "6f91ac1bb2b49e61a1daefd12de800a2";
const GOLDEN_TABLE_SHA256 = "0241fa0d2e573dee86756e39fb4181e61ff7218087619cab565b602df55954d6";

describe("partition table (binary)", () => {
  it("encodes an entry: magic AA 50, type, subtype, offset, size, label, flags", () => {
    const row = encodePartitionEntry({ name: "ota_1", type: 0, subtype: 0x11, offset: 0x190000, size: 0x180000, flags: PartitionFlag.READONLY });
    assert.equal(
      row.toString("hex"),
      "aa50" + "0011" + "00001900" + "00001800" + Buffer.from("ota_1").toString("hex") + "00".repeat(11) + "02000000",
    );
  });

  it("matches the golden table of the virtual board, MD5 row included", () => {
    const table = encodePartitionTable(VIRTUAL_BOARD_PARTITIONS);
    assert.equal(table.length, PARTITION_TABLE_MAX_LEN);
    const md5Row = table.subarray(5 * 32, 6 * 32);
    assert.equal(md5Row.subarray(0, 16).toString("hex"), "ebeb" + "ff".repeat(14));
    assert.equal(md5Row.subarray(16).toString("hex"), GOLDEN_MD5);
    assert.ok(table.subarray(6 * 32).every((b) => b === 0xff));
    assert.equal(createHash("sha256").update(table).digest("hex"), GOLDEN_TABLE_SHA256);
  });

  it("round-trips, with and without the MD5 row", () => {
    assert.deepEqual(decodePartitionTable(encodePartitionTable(VIRTUAL_BOARD_PARTITIONS)), {
      partitions: VIRTUAL_BOARD_PARTITIONS,
      md5: true,
    });
    const plain = encodePartitionTable(VIRTUAL_BOARD_PARTITIONS, { md5: false });
    assert.ok(plain.subarray(5 * 32).every((b) => b === 0xff));
    assert.deepEqual(decodePartitionTable(plain), { partitions: VIRTUAL_BOARD_PARTITIONS, md5: false });
  });

  it("keeps a 16-byte label without a NUL and unknown flag bits", () => {
    const p = { name: "abcdefghijklmnop", type: 0x40, subtype: 0x99, offset: 0x20000, size: 0x1000, flags: 0x80000001 };
    assert.deepEqual(decodePartitionTable(encodePartitionTable([p])).partitions, [p]);
  });

  it("refuses a label longer than 16 bytes", () => {
    assert.throws(() => encodePartitionEntry({ name: "abcdefghijklmnopq", type: 1, subtype: 1, offset: 0x9000, size: 0x1000, flags: 0 }), {
      name: "PartitionTableError",
      message: 'partition label "abcdefghijklmnopq" is 17 bytes; at most 16 fit',
    });
  });

  it("refuses out-of-range fields", () => {
    assert.throws(() => encodePartitionEntry({ name: "x", type: 256, subtype: 0, offset: 0, size: 1, flags: 0 }), {
      message: 'partition "x": type 256 is not an integer in 0..0xFF',
    });
  });

  it("holds at most 94 partitions with the MD5 row, 95 without", () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `p${i}`, type: 1, subtype: 0x81, offset: 0x10000 + i * 0x1000, size: 0x1000, flags: 0 }));
    assert.equal(PARTITION_COUNT_MAX, 94);
    assert.equal(decodePartitionTable(encodePartitionTable(many(94))).partitions.length, 94);
    assert.throws(() => encodePartitionTable(many(95)), { message: "95 partitions do not fit in the table (at most 94)" });
    assert.equal(decodePartitionTable(encodePartitionTable(many(95), { md5: false })).partitions.length, 95);
  });

  describe("decoding malformed tables", () => {
    const good = () => encodePartitionTable(VIRTUAL_BOARD_PARTITIONS);

    it("detects a changed byte through the MD5", () => {
      const table = good();
      table[4 * 32 + 8] ^= 0x01;
      assert.throws(() => decodePartitionTable(table), {
        name: "PartitionTableError",
        message: /^row 5: MD5 mismatch: stored 6f91ac1bb2b49e61a1daefd12de800a2, computed [0-9a-f]{32}$/,
      });
    });

    it("rejects a bad magic", () => {
      const table = good();
      table[2 * 32] = 0x00;
      assert.throws(() => decodePartitionTable(table), { message: "row 2: invalid magic 0x5000" });
    });

    it("rejects a second MD5 row", () => {
      const table = good();
      table.copy(table, 6 * 32, 5 * 32, 6 * 32);
      assert.throws(() => decodePartitionTable(table), { message: "row 6: only one MD5 row is allowed" });
    });

    it("rejects a table with no end marker", () => {
      const table = Buffer.alloc(PARTITION_TABLE_MAX_LEN);
      for (let i = 0; i < 96; i++) encodePartitionEntry({ name: `p${i}`, type: 1, subtype: 1, offset: 0, size: 0, flags: 0 }).copy(table, i * 32);
      assert.throws(() => decodePartitionTable(table), { message: "no end-of-table marker within 0xC00 bytes" });
    });

    it("rejects a truncated table", () => {
      assert.throws(() => decodePartitionTable(good().subarray(0, 100)), {
        message: "partition table truncated: row 3 needs bytes 0x60..0x80, have 0x64",
      });
    });

    it("rejects partitions past the flash when the flash size is given", () => {
      assert.throws(() => decodePartitionTable(good(), { flashSize: 0x200000 }), {
        message: 'partition 4 "ota_1" at 0x190000 size 0x180000 exceeds the flash size 0x200000',
      });
      assert.equal(decodePartitionTable(good(), { flashSize: 0x400000 }).partitions.length, 5);
    });

    it("accepts the end marker with a non-FF tail like the bootloader (only magic, type, subtype count)", () => {
      const table = good();
      table[6 * 32 + 10] = 0x00;
      assert.equal(decodePartitionTable(table).partitions.length, 5);
    });
  });
});
