import assert from "node:assert/strict";
import { offsetAlignment, validatePartitions } from "./partition-layout.js";
import type { Partition } from "./partition-table.js";

const p = (name: string, type: number, subtype: number, offset: number, size: number, flags = 0): Partition => ({
  name,
  type,
  subtype,
  offset,
  size,
  flags,
});

const nvs = p("nvs", 1, 2, 0x9000, 0x4000);
const otadata = p("otadata", 1, 0, 0xd000, 0x2000);
const ota0 = p("ota_0", 0, 0x10, 0x10000, 0x180000);
const ota1 = p("ota_1", 0, 0x11, 0x190000, 0x180000);
const good = [nvs, otadata, ota0, ota1];

function rejects(partitions: Partition[], message: string, options = {}): void {
  assert.throws(() => validatePartitions(partitions, options), { name: "PartitionTableError", message });
}

describe("partition layout rules", () => {
  it("accepts the virtual board layout, in any order", () => {
    validatePartitions(good, { flashSize: 0x400000 });
    validatePartitions([ota1, nvs, ota0, otadata]);
  });

  it("aligns apps to 64 KB and everything else to 4 KB", () => {
    assert.equal(offsetAlignment(0x00), 0x10000);
    assert.equal(offsetAlignment(0x01), 0x1000);
    assert.equal(offsetAlignment(0x40), 0x1000);
    rejects([nvs, otadata, { ...ota0, offset: 0x18000 }, ota1], 'partition "ota_0": offset 0x18000 is not aligned to 0x10000');
    rejects([{ ...nvs, offset: 0x9800 }], 'partition "nvs": offset 0x9800 is not aligned to 0x1000');
  });

  it("requires app sizes in whole 4 KB sectors", () => {
    rejects([nvs, otadata, { ...ota0, size: 0x180800 }, ota1], 'partition "ota_0": size 0x180800 of an app partition is not a multiple of 0x1000');
  });

  it("rejects empty, long and duplicate names", () => {
    rejects([{ ...nvs, name: "" }], "a partition has an empty name");
    rejects([{ ...nvs, name: "x".repeat(17) }], `partition "${"x".repeat(17)}": the name is 17 bytes; a label holds at most 16`);
    rejects([nvs, { ...otadata, name: "nvs" }], 'duplicate partition name "nvs"');
  });

  it("rejects bad numbers", () => {
    rejects([{ ...nvs, type: 0xff }], 'partition "nvs": type 255 is not in 0..0xFE');
    rejects([{ ...nvs, subtype: 256 }], 'partition "nvs": subtype 256 is not in 0..0xFF');
    rejects([{ ...nvs, size: 0 }], 'partition "nvs": size 0 is not a positive integer');
    rejects([{ ...nvs, offset: 0xfffff000, size: 0x2000 }], 'partition "nvs": ends at 0x100001000, beyond the 32-bit address space');
  });

  it("rejects overlaps, partitions under the table and past the flash", () => {
    rejects([nvs, { ...otadata, offset: 0xc000 }], 'partition "otadata" (0xC000..0xE000) overlaps partition "nvs" (0x9000..0xD000)');
    rejects([{ ...nvs, offset: 0x8000 }], 'partition "nvs" at 0x8000 is below the end of the partition table sector (0x9000)');
    validatePartitions([{ ...nvs, offset: 0x6000 }], { tableOffset: 0x5000 });
    rejects(good, 'partition "ota_1" (0x190000..0x310000) ends beyond the flash size 0x200000', { flashSize: 0x200000 });
  });

  it("allows the primary bootloader and partition table entries below the table end", () => {
    validatePartitions([p("bl", 2, 0, 0x1000, 0x7000), p("pt", 3, 0, 0x8000, 0x1000), ...good]);
  });

  it("wants one otadata of exactly 0x2000 bytes", () => {
    rejects([...good, p("otadata2", 1, 0, 0x310000, 0x2000)], 'more than one otadata partition (data, ota): "otadata", "otadata2"');
    rejects([nvs, { ...otadata, size: 0x1000 }, ota0, ota1], 'otadata partition "otadata" must be 0x2000 bytes, not 0x1000');
  });

  it("keeps read-only off otadata and coredump, and NVS at 0x3000 unless read-only", () => {
    rejects([nvs, { ...otadata, flags: 2 }, ota0, ota1], 'partition "otadata": otadata and coredump partitions are always read-write and cannot be readonly');
    rejects([p("cd", 1, 3, 0x9000, 0x10000, 2)], 'partition "cd": otadata and coredump partitions are always read-write and cannot be readonly');
    rejects([{ ...nvs, size: 0x2000 }], 'partition "nvs": a read-write NVS partition needs at least 0x3000 bytes, not 0x2000 (or flag it readonly)');
    validatePartitions([{ ...nvs, size: 0x1000, flags: 2 }]);
  });

  it("wants OTA slots ota_0..ota_N without gaps or duplicates, and an otadata for them", () => {
    rejects([nvs, otadata, ota0, { ...ota1, subtype: 0x12 }], "OTA slots must be ota_0..ota_1 without gaps: ota_1 is missing (found ota_0, ota_2)");
    rejects([nvs, otadata, { ...ota1, subtype: 0x11 }], "OTA slots must be ota_0..ota_0 without gaps: ota_0 is missing (found ota_1)");
    rejects([nvs, otadata, ota0, { ...ota1, subtype: 0x10 }], 'partitions "ota_0" and "ota_1" are both ota_0');
    rejects([nvs, ota0, ota1], "OTA app partitions need an otadata partition (data, ota)");
    validatePartitions([nvs, p("factory", 0, 0x00, 0x10000, 0x100000)]);
  });
});
