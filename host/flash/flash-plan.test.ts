import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChipId, PARTITION_TABLE_OFFSET, buildAppImage, buildVirtualBoardImage, encodePartitionTable, parseAppImage, parsePartitionsCsv } from "../fwpack/index.ts";
import { packageAppImage } from "../fwpack/app-package.ts";
import { decodeFwManifest, encodeFwManifest } from "../fwpack/fw-manifest.ts";
import { readStoredZip } from "../fwpack/stored-zip-reader.ts";
import { writeStoredZip } from "../fwpack/stored-zip-writer.ts";
import { FlashPlanError, planFlash } from "./flash-plan.ts";

const CSV = fs.readFileSync(new URL("../../boards/virtual/partitions.csv", import.meta.url), "utf8");
const app = buildVirtualBoardImage({ version: "1.0.0", projectName: "t", modules: [["main", "trace('hi')"]] });
/** The same app for a real ESP32, to go with an ESP32 bootloader. */
const esp32App = buildAppImage({ segments: parseAppImage(app).segments, header: { chipId: ChipId.ESP32 } });
/** A second-stage bootloader: an image whose first segment is not an app descriptor (DRAM, as the real one loads). */
const bootloader = (chipId: number) => buildAppImage({ segments: [{ loadAddr: 0x3fff0030, data: Buffer.alloc(64, 1) }], header: { chipId } });
const where = (images: Array<{ name: string; address: number; data: Uint8Array }>) => images.map((i) => [i.name, i.address, i.data.length]);

describe("what xs-ota flash writes where", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-plan-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, data: Uint8Array) => {
    fs.writeFileSync(path.join(dir, name), data);
    return path.join(dir, name);
  };

  it("by default: the board's partition table, an erased otadata and the firmware in ota_0", async () => {
    const plan = await planFlash({ paths: [], partitionsCsv: CSV, defaultApp: async () => app });
    assert.deepEqual(where(plan.images), [
      ["partition table", PARTITION_TABLE_OFFSET, 0xc00],
      ["otadata", 0xd000, 0x2000],
      ["app (ota_0)", 0x10000, app.length],
    ]);
    assert.ok(plan.images[1]!.data.every((b) => b === 0xff));
    assert.equal(plan.chipId, ChipId.VIRTUAL_BOARD);
  });

  it("tells files apart by content, whatever their names, and puts the bootloader where the chip's ROM looks", async () => {
    const table = encodePartitionTable(parsePartitionsCsv(CSV));
    const paths = [file("a.bin", table), file("b.bin", esp32App), file("c.bin", bootloader(ChipId.ESP32))];
    const plan = await planFlash({ paths, partitionsCsv: "", defaultApp: () => assert.fail("not needed") });
    assert.deepEqual(where(plan.images).map(([n, a]) => [n, a]), [
      ["bootloader", 0x1000],
      ["partition table", 0x8000],
      ["otadata", 0xd000],
      ["app (ota_0)", 0x10000],
    ]);
    // The same set from their directory.
    assert.deepEqual(where((await planFlash({ paths: [dir], partitionsCsv: "", defaultApp: () => assert.fail("not needed") })).images), where(plan.images));
  });

  it("follows an ESP-IDF build's flasher_args.json", async () => {
    file("app.bin", esp32App);
    fs.mkdirSync(path.join(dir, "bootloader"));
    file("bootloader/bootloader.bin", bootloader(ChipId.ESP32));
    file("flasher_args.json", Buffer.from(JSON.stringify({ flash_files: { "0x20000": "app.bin", "0x1000": "bootloader/bootloader.bin" } })));
    const plan = await planFlash({ paths: [dir], partitionsCsv: CSV, defaultApp: () => assert.fail("not needed") });
    assert.deepEqual(where(plan.images).map(([n, a]) => [n, a]), [
      ["bootloader", 0x1000],
      ["app", 0x20000],
    ]);
  });

  it("refuses, with the reason: an unknown file, two apps, a bootloader for another chip, an app too big for its slot", async () => {
    const refuse = (paths: string[], re: RegExp) => assert.rejects(planFlash({ paths, partitionsCsv: CSV, defaultApp: async () => app }), (e: Error) => e instanceof FlashPlanError && re.test(e.message));
    await refuse([file("notes.txt", Buffer.from("hello"))], /notes\.txt is neither an app image, a bootloader image nor a partition table/);
    await refuse([file("a.bin", app), file("b.bin", app)], /two app files/);
    await refuse([file("c.bin", app), file("boot.bin", bootloader(ChipId.ESP32S3))], /built for different chips/);
    await refuse([file("c.bin", app), file("boot.bin", bootloader(ChipId.ESP32))], /built for different chips/);
    const small = CSV.replace(/ota_0,\s*app,\s*ota_0,\s*0x10000,\s*0x180000/, "ota_0, app, ota_0, 0x10000, 4K");
    const big = buildVirtualBoardImage({ version: "1.0.0", projectName: "t", modules: [["main", `trace("${"x".repeat(5000)}")`]] });
    await assert.rejects(planFlash({ paths: [file("d.bin", big)], partitionsCsv: small, defaultApp: async () => app }), /does not fit or verify for partition "ota_0"/);
    await refuse([path.join(dir, "missing.bin")], /cannot read .*missing\.bin: no such file/);
  });

  describe("a fw.zip", () => {
    const table = encodePartitionTable(parsePartitionsCsv(CSV));
    const plan = (zip: Uint8Array) => planFlash({ paths: [file("fw.zip", zip)], partitionsCsv: "", defaultApp: () => assert.fail("not needed") });

    it("puts each part where mos flash would: addr, or ptn through the package's own table (an app at its start, data at offset + addr)", async () => {
      const flash = { boot: { data: bootloader(ChipId.VIRTUAL_BOARD), addr: 0x1000 }, pt: table, otadata: Buffer.alloc(0x2000, 0xff) };
      const { manifest, zip } = packageAppImage(app, { flash });
      // mgos's nvs part: no file, 0x4000 bytes of 0xFF in the nvs partition.
      const parts = { ...manifest.parts, nvs: { type: "nvs", ptn: "nvs", size: 0x4000, fill: 0xff } };
      const withNvs = repack(zip, parts);
      const p = await plan(withNvs);
      assert.deepEqual(where(p.images), [
        ["bootloader", 0x1000, flash.boot.data.length],
        ["partition table", 0x8000, 0xc00],
        ["nvs", 0x9000, 0x4000],
        ["otadata", 0xd000, 0x2000],
        ["app (ota_0)", 0x10000, app.length],
      ]);
      assert.equal(p.chipId, ChipId.VIRTUAL_BOARD);
    });

    it("refuses, with the reason: no pt for a ptn, an unknown partition, overlapping parts, a bootloader for another chip", async () => {
      const refuse = (zip: Uint8Array, re: RegExp) => assert.rejects(plan(zip), (e: Error) => e instanceof FlashPlanError && re.test(e.message));
      await refuse(packageAppImage(app).zip, /no partition table in the fw bundle \(part "pt"\), needed to place part "app" in partition "ota_0"/);
      const full = packageAppImage(app, { flash: { pt: table, otadata: Buffer.alloc(0x2000, 0xff) } });
      await refuse(repack(full.zip, { ...full.manifest.parts, app: { ...full.manifest.parts.app!, ptn: "app_0" } }), /part "app": partition "app_0" not found/);
      await refuse(repack(full.zip, { ...full.manifest.parts, pt: { ...full.manifest.parts.pt!, addr: 0xd000 } }), /overlap/);
      await refuse(packageAppImage(app, { flash: { boot: { data: bootloader(ChipId.ESP32S3), addr: 0x1000 }, pt: table, otadata: Buffer.alloc(0x2000, 0xff) } }).zip, /different chips/);
      await refuse(Buffer.concat([full.zip.subarray(0, 100), Buffer.alloc(10)]), /fw\.zip: /);
    });
  });
});

/** The same package under another `parts` (the files, their sizes and digests as they were). */
function repack(zip: Buffer, parts: Record<string, Record<string, unknown>>): Buffer {
  const [manifest, ...files] = readStoredZip(zip);
  const changed = encodeFwManifest({ ...decodeFwManifest(manifest!.data), parts });
  return writeStoredZip([{ name: manifest!.name, data: changed }, ...files], { modified: new Date(Date.UTC(2026, 0, 1)) });
}
