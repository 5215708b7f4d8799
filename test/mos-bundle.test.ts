// Our fw.zip read the way `mos flash` reads an ESP32 bundle, by a reader
// written from mos's source (github.com/mongoose-os/mos at b44964e), not from
// ours: nothing here comes from host/fwpack. What each step follows:
//  - common/fwbundle/fw_bundle_zip.go ReadZipFirmwareBundle: Go's archive/zip
//    (central directory, stored or deflated, CRC-32 checked), every file
//    keyed by path.Base(name), "no manifest.json in the archive";
//  - fw_bundle.go / fw_part.go: json.Unmarshal into typed fields (addr and
//    size uint32, fill uint8, encrypt and flash bool, strings elsewhere,
//    build_timestamp a time.Time), other attributes kept (update);
//    GetData(): the src file, its cs_sha1 and cs_sha256 compared with the
//    lower-case hex of the file, or fill x size;
//  - cli/flash/esp/flasher/flash.go Flash(): a part with ptn placed through
//    cli/flash/esp32/partitions.go GetPartitionInfo (the "pt" part read row
//    by row while the magic is 0x50AA; "no partition table in the fw
//    bundle"), an app at its partition's offset, others at offset + addr;
//    sanityCheckImages(): inside the flash, on 4 KB sectors, the image at 0
//    starting with 0xE9, no overlaps.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { ChipId, buildAppImage, parseAppImage } from "../host/fwpack/index.ts";
import { REPO_ROOT } from "../host/vboard/assets.ts";
import { runCli } from "./run-cli.ts";

/** Go's archive/zip reader, for what mos uses of it: every file's base name and bytes. */
function goZipFiles(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("zip: not a valid zip file");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const blobs = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("zip: not a valid zip file");
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error("zip: not a valid zip file");
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : assert.fail(`zip: unsupported compression algorithm ${method}`);
    if (zlib.crc32(data) !== crc) throw new Error("zip: checksum error");
    blobs.set(path.posix.basename(name), data);
  }
  return blobs;
}

type Kind = "string" | "uint32" | "uint8" | "bool";
/** firmwarePart's JSON fields and their Go types; any other key lands in attrs, as is. */
const PART_FIELDS: Record<string, Kind> = {
  type: "string", src: "string", addr: "uint32", size: "uint32", fill: "uint8", flash: "bool", cs_sha1: "string", cs_sha256: "string",
  fs_size: "uint32", fs_block_size: "uint32", fs_erase_size: "uint32", fs_page_size: "uint32", encrypt: "bool", ptn: "string",
  falloc: "uint32", sig: "string", sig_cert: "string", sign: "string",
};
const MANIFEST_FIELDS: Record<string, Kind> = { name: "string", platform: "string", description: "string", version: "string", build_id: "string" };

/** json.Unmarshal's type check for one field: a mismatch fails the whole manifest. */
function goField(where: string, value: unknown, kind: Kind): void {
  const ok =
    kind === "string" ? typeof value === "string"
    : kind === "bool" ? typeof value === "boolean"
    : Number.isInteger(value) && (value as number) >= 0 && (value as number) <= (kind === "uint8" ? 0xff : 0xffffffff);
  if (!ok) throw new Error(`json: cannot unmarshal ${JSON.stringify(value)} into Go struct field ${where} of type ${kind}`);
}

interface MosPart {
  name: string;
  fields: Record<string, unknown>;
  /** Keys outside the struct, kept by UnmarshalJSON. */
  attrs: Record<string, unknown>;
}

function readBundle(zip: Buffer): { manifest: Record<string, unknown>; parts: Map<string, MosPart>; blobs: Map<string, Buffer> } {
  const blobs = goZipFiles(zip);
  const manifestData = blobs.get("manifest.json");
  if (!manifestData) throw new Error("no manifest.json in the archive");
  const manifest = JSON.parse(manifestData.toString("utf8")) as Record<string, unknown>;
  for (const [field, kind] of Object.entries(MANIFEST_FIELDS)) if (field in manifest) goField(`firmwareManifest.${field}`, manifest[field], kind);
  // time.Time's UnmarshalJSON: RFC 3339.
  if ("build_timestamp" in manifest) assert.match(manifest.build_timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  const parts = new Map<string, MosPart>();
  for (const [name, raw] of Object.entries(manifest.parts as Record<string, Record<string, unknown>>)) {
    const part: MosPart = { name, fields: {}, attrs: {} };
    for (const [key, value] of Object.entries(raw)) {
      if (key in PART_FIELDS) {
        goField(`firmwarePart.${key}`, value, PART_FIELDS[key]!);
        part.fields[key] = value;
      } else part.attrs[key] = value;
    }
    parts.set(name, part);
  }
  return { manifest, parts, blobs };
}

const sha = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest("hex");

/** FirmwarePart.GetData(). */
function partData(part: MosPart, blobs: Map<string, Buffer>): Buffer {
  const { src, cs_sha1, cs_sha256, fill, size } = part.fields as { src?: string; cs_sha1?: string; cs_sha256?: string; fill?: number; size?: number };
  if (src) {
    const data = blobs.get(src);
    if (!data) throw new Error(`${part.name}: error retrieving data: ${src} not found in the archive`);
    if (cs_sha1 && cs_sha1 !== sha("sha1", data)) throw new Error(`${part.name}: checksum does not match (want ${cs_sha1}, got ${sha("sha1", data)})`);
    if (cs_sha256 && cs_sha256 !== sha("sha256", data)) throw new Error(`${part.name}: checksum does not match (want ${cs_sha256}, got ${sha("sha256", data)})`);
    return data;
  }
  if (fill !== undefined && size) return Buffer.alloc(size, fill);
  throw new Error(`no suitable data source for ${part.name}`);
}

interface PartitionRow { label: string; type: number; subtype: number; offset: number; size: number }

/** GetPartitionInfo's loop, over every row. */
function partitionRows(parts: Map<string, MosPart>, blobs: Map<string, Buffer>): PartitionRow[] {
  const pt = parts.get("pt");
  if (!pt) throw new Error("no partition table in the fw bundle");
  const data = partData(pt, blobs);
  const rows: PartitionRow[] = [];
  for (let at = 0; at + 32 <= data.length && data.readUInt16LE(at) === 0x50aa; at += 32) {
    rows.push({ type: data[at + 2]!, subtype: data[at + 3]!, offset: data.readUInt32LE(at + 4), size: data.readUInt32LE(at + 8), label: data.toString("latin1", at + 12, at + 28).replace(/\0+$/, "") });
  }
  return rows;
}

interface MosImage { name: string; type?: string; addr: number; data: Buffer }

const FLASH_SIZE = 4 * 1024 * 1024;

/** Flash() up to the write: every part placed, then sanityCheckImages(). */
function mosFlashImages(zip: Buffer): MosImage[] {
  const { parts, blobs } = readBundle(zip);
  const images: MosImage[] = [];
  for (const part of parts.values()) {
    const f = part.fields as { type?: string; ptn?: string; addr?: number; size?: number };
    let addr = f.addr ?? 0;
    if (f.ptn) {
      const row = partitionRows(parts, blobs).find((r) => r.label === f.ptn);
      if (!row) throw new Error(`${part.name}: failed to respolve partition "${f.ptn}": partition "${f.ptn}" not found`);
      addr = f.type !== "app" ? row.offset + addr : row.offset;
      if (!f.size) part.fields.size = row.offset + row.size - addr;
    }
    images.push({ name: part.name, type: f.type, addr, data: partData(part, blobs) });
  }
  images.sort((a, b) => a.addr - b.addr);
  images.forEach((im, i) => {
    assert.ok(im.addr < FLASH_SIZE && im.addr + im.data.length <= FLASH_SIZE, `Image ${im.data.length} @ 0x${im.addr.toString(16)} will not fit in flash`);
    assert.equal(im.addr % 0x1000, 0, `Image starting address (0x${im.addr.toString(16)}) is not on flash sector boundary`);
    if (im.addr === 0) assert.equal(im.data[0], 0xe9, "Invalid magic byte in the first image");
    const prev = images[i - 1];
    if (prev) assert.ok(prev.addr + prev.data.length <= im.addr, `Images 0x${prev.addr.toString(16)} and 0x${im.addr.toString(16)} overlap`);
  });
  return images;
}

/** A partitions.csv read plainly: name, offset, size of each row (our boards give every offset). */
function csvRows(file: string): Array<[string, number, number]> {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() && !line.startsWith("#"))
    .map((line) => line.split(",").map((cell) => cell.trim()))
    .map(([name, , , offset, size]) => [name!, Number(offset), Number(size)]);
}

describe("our fw.zip through a reader written from mos's source (mos flash's view)", function () {
  this.timeout(120_000);
  let dir: string;
  let virtualZip: Buffer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-mos-"));
    const r = await runCli(["build", "--version", "1.2.3", "--out", path.join(dir, "virtual")]);
    assert.equal(r.code, 0, r.stderr);
    virtualZip = fs.readFileSync(path.join(dir, "virtual/fw.zip"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("virtual board: pt, otadata and app, placed by the package's own partition table; no boot part (the board emulates its bootloader)", () => {
    const { manifest, parts } = readBundle(virtualZip);
    assert.deepEqual([manifest.name, manifest.platform, manifest.version], ["xs-ota", "esp32", "1.2.3"]);
    assert.deepEqual([...parts.keys()].sort(), ["app", "otadata", "pt"]);
    assert.deepEqual(parts.get("pt")!.fields, { ...parts.get("pt")!.fields, type: "pt", addr: 0x8000, src: "partition-table.bin", encrypt: true });
    assert.deepEqual(parts.get("otadata")!.fields, { ...parts.get("otadata")!.fields, type: "otadata", ptn: "otadata", encrypt: true });
    assert.deepEqual(parts.get("app")!.fields, { ...parts.get("app")!.fields, type: "app", ptn: "ota_0", encrypt: true });
    for (const name of ["pt", "otadata"]) assert.deepEqual(parts.get(name)!.attrs, { update: false });
    const images = mosFlashImages(virtualZip);
    assert.deepEqual(images.map((i) => [i.name, i.addr, i.data.length]), [
      ["pt", 0x8000, 0xc00],
      ["otadata", 0xd000, 0x2000],
      ["app", 0x10000, fs.statSync(path.join(dir, "virtual/app.bin")).size],
    ]);
    assert.ok(images[1]!.data.every((b) => b === 0xff), "otadata erased, as ESP-IDF's ota_data_initial.bin");
    assert.deepEqual(images[2]!.data, fs.readFileSync(path.join(dir, "virtual/app.bin")));
  });

  it("virtual board: the pt part's rows are boards/virtual/partitions.csv's", () => {
    const { parts, blobs } = readBundle(virtualZip);
    assert.deepEqual(
      partitionRows(parts, blobs).map((r) => [r.label, r.offset, r.size]),
      csvRows(path.join(REPO_ROOT, "boards/virtual/partitions.csv")),
    );
  });

  it("ESP32: boot at 0x1000 with update false, then pt, otadata and app, from an ESP-IDF build directory", async () => {
    const { parts, blobs } = readBundle(virtualZip);
    const idf = path.join(dir, "idf");
    fs.mkdirSync(path.join(idf, "bootloader"), { recursive: true });
    fs.mkdirSync(path.join(idf, "partition_table"), { recursive: true });
    // A stand-in second-stage bootloader: mos only looks at its first byte (and patches bytes 2 and 3).
    const bootloader = Buffer.alloc(0x5000, 0x11);
    bootloader[0] = 0xe9;
    fs.writeFileSync(path.join(idf, "bootloader/bootloader.bin"), bootloader);
    fs.writeFileSync(path.join(idf, "partition_table/partition-table.bin"), partData(parts.get("pt")!, blobs));
    fs.writeFileSync(path.join(idf, "ota_data_initial.bin"), Buffer.alloc(0x2000, 0xff));
    // The virtual board's app, rebuilt as an ESP32 one (chip id 0) for the packager's chip check; mos reads it as bytes.
    const { segments } = parseAppImage(fs.readFileSync(path.join(dir, "virtual/app.bin")));
    fs.writeFileSync(path.join(idf, "xs_esp32.bin"), buildAppImage({ segments, header: { chipId: ChipId.ESP32 } }));
    const r = await runCli(["build", "--board", "esp32", "--moddable-out", idf, "--out", path.join(dir, "esp32")]);
    assert.equal(r.code, 0, r.stderr);
    const zip = fs.readFileSync(path.join(dir, "esp32/fw.zip"));
    const boot = readBundle(zip).parts.get("boot")!;
    assert.deepEqual(boot.fields, { ...boot.fields, type: "boot", addr: 0x1000, src: "bootloader.bin", encrypt: true });
    assert.deepEqual(boot.attrs, { update: false });
    assert.deepEqual(mosFlashImages(zip).map((i) => [i.name, i.addr]), [
      ["boot", 0x1000],
      ["pt", 0x8000],
      ["otadata", 0xd000],
      ["app", 0x10000],
    ]);
  });

  it("the reader is mos's: it fails a package for OTA only, a changed file and a string addr the way mos does", () => {
    const { parts, blobs } = readBundle(virtualZip);
    // A package without pt: mos flash's error.
    parts.delete("pt");
    assert.throws(() => partitionRows(parts, blobs), /no partition table in the fw bundle/);
    const app = parts.get("app")!;
    const changed = new Map(blobs).set(app.fields.src as string, Buffer.from("not the app"));
    assert.throws(() => partData(app, changed), /app: checksum does not match/);
    assert.throws(() => goField("firmwarePart.addr", "0x8000", "uint32"), /cannot unmarshal "0x8000"/);
  });
});
