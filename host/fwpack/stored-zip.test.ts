import assert from "node:assert/strict";
import zlib from "node:zlib";
import { infoZipTest, rawZip } from "../../test/zip-fixtures.ts";
import { readStoredZip } from "./stored-zip-reader.js";
import { writeStoredZip } from "./stored-zip-writer.js";

const modified = new Date("2025-01-02T03:04:06Z");
const twoEntries = [
  { name: "demo-1.0/manifest.json", data: Buffer.from('{\n  "a": 1\n}') },
  { name: "demo-1.0/é.bin", data: Buffer.from([0, 1, 2, 0xff]) },
];

// Written by Python's zipfile (the library mgos_fw_meta.py builds fw.zip with):
// ZipInfo(name, (2025, 1, 2, 3, 4, 6)), create_system 3, external_attr
// 0o100644 << 16, writestr() into a BytesIO, ZIP_STORED.
const PYTHON_ZIP =
  "504b03041400000000008318225a90d9a9670c0000000c0000001600000064656d6f2d312e302f6d616e69666573742e6a736f6e7b0a20202261223a20310a7d" +
  "504b03041400000800008318225a2438b23f04000000040000000f00000064656d6f2d312e302fc3a92e62696e000102ff" +
  "504b010214031400000000008318225a90d9a9670c0000000c000000160000000000000000000000a4810000000064656d6f2d312e302f6d616e69666573742e6a736f6e" +
  "504b010214031400000800008318225a2438b23f04000000040000000f0000000000000000000000a4814000000064656d6f2d312e302fc3a92e62696e" +
  "504b0506000000000200020081000000710000000000";

function bigZip(): Buffer {
  const data = Buffer.alloc(100_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) >>> 3;
  return writeStoredZip([{ name: "x-1/manifest.json", data: Buffer.from("{}") }, { name: "x-1/app.bin", data }], { modified });
}

/** Offsets of every local header, walked the way the device walks them. */
function localHeaders(zip: Buffer): number[] {
  const found: number[] = [];
  for (let at = 0; zip.readUInt32LE(at) === 0x04034b50; at += 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28) + zip.readUInt32LE(at + 18)) {
    found.push(at);
  }
  return found;
}

describe("stored zip writer", () => {
  it("writes the bytes Python's zipfile writes for the same entries", () => {
    assert.equal(writeStoredZip(twoEntries, { modified }).toString("hex"), PYTHON_ZIP);
  });

  it("puts CRC-32 and sizes in every local header, stores, and never sets bit 3", () => {
    const zip = bigZip();
    const headers = localHeaders(zip);
    assert.equal(headers.length, 2);
    const app = headers[1]!;
    assert.equal(zip.readUInt16LE(app + 6) & 0x8, 0);
    assert.equal(zip.readUInt16LE(app + 8), 0);
    assert.equal(zip.readUInt32LE(app + 18), 100_000);
    assert.equal(zip.readUInt32LE(app + 22), 100_000);
    const dataAt = app + 30 + zip.readUInt16LE(app + 26);
    assert.equal(zip.readUInt32LE(app + 14), zlib.crc32(zip.subarray(dataAt, dataAt + 100_000)));
    // Right after the data: the central directory, not a descriptor.
    assert.equal(zip.readUInt32LE(dataAt + 100_000), 0x02014b50);
  });

  it("is accepted by Info-ZIP's unzip -t, with and without an extra field", () => {
    for (const zip of [bigZip(), writeStoredZip([{ ...twoEntries[0]!, extraField: Buffer.from([0x3a, 0x29, 2, 0, 0x7b, 0x7d]) }], { modified })]) {
      const r = infoZipTest(zip);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /No errors detected/);
    }
  });

  it("writes an extra field to both headers, where the reader finds it", () => {
    const extraField = Buffer.from([0x3a, 0x29, 3, 0, 1, 2, 3]);
    const [entry] = readStoredZip(writeStoredZip([{ name: "a/manifest.json", data: Buffer.from("{}"), extraField }], { modified }));
    assert.deepEqual(entry!.extraField, extraField);
  });

  it("refuses names and extra fields that readers would misread", () => {
    const write = (name: string, extraField?: Buffer) => () => writeStoredZip([{ name, data: Buffer.alloc(0), extraField }], { modified });
    assert.throws(write("/abs"), /relative "\/"-separated path/);
    assert.throws(write("a\\b"), /relative/);
    assert.throws(write("a/../b"), /"\." or "\.\." segments/);
    assert.throws(write("ok", Buffer.from([1, 0, 9, 0, 1])), /extra field of "ok" is malformed at byte 0/);
    assert.throws(
      () => writeStoredZip([{ name: "a", data: Buffer.alloc(0) }, { name: "a", data: Buffer.alloc(0) }], { modified }),
      /duplicate zip entry "a"/,
    );
  });
});

describe("stored zip reader", () => {
  it("reads back names, data, times and offsets in archive order", () => {
    const entries = readStoredZip(Buffer.from(PYTHON_ZIP, "hex"));
    assert.deepEqual(entries.map((e) => e.name), ["demo-1.0/manifest.json", "demo-1.0/é.bin"]);
    assert.deepEqual(entries[1]!.data, Buffer.from([0, 1, 2, 0xff]));
    assert.equal(entries[1]!.flags, 0x800);
    assert.equal(entries[0]!.modified.toISOString(), "2025-01-02T03:04:06.000Z");
    assert.deepEqual(entries.map((e) => e.offset), [0, 30 + 22 + 12]); // header, name, manifest bytes
  });

  it("refuses a zip cut short, wherever the cut is", () => {
    const zip = bigZip();
    const app = localHeaders(zip)[1]!;
    assert.throws(() => readStoredZip(zip.subarray(0, app + 10)), /^FwZipError: truncated zip: a local header at offset 0x[0-9A-F]+ needs 30 bytes/);
    assert.throws(() => readStoredZip(zip.subarray(0, app + 5000)), /^FwZipError: truncated zip: the data of "x-1\/app.bin" at offset 0x[0-9A-F]+ needs 100000 bytes/);
    assert.throws(() => readStoredZip(zip.subarray(0, zip.length - 10)), /truncated zip: no end of central directory record/);
    assert.throws(() => readStoredZip(zip.subarray(0, 2)), /truncated zip: the first local header/);
  });

  it("refuses a bad local header magic and bytes that are no zip", () => {
    const zip = bigZip();
    zip[localHeaders(zip)[1]!] = 0x51;
    assert.throws(() => readStoredZip(zip), /^FwZipError: bad local header magic 0x04034B51 at offset 0x[0-9A-F]+/);
    assert.throws(() => readStoredZip(Buffer.from("MZ this is not a zip at all")), /^FwZipError: not a zip: bad local header magic 0x74205A4D at offset 0x0 /);
  });

  it("refuses an entry whose data does not match its CRC", () => {
    const zip = bigZip();
    zip[localHeaders(zip)[1]! + 30 + "x-1/app.bin".length + 500]! ^= 0x01;
    assert.throws(() => readStoredZip(zip), /^FwZipError: Invalid CRC: entry "x-1\/app.bin": the local header says 0x[0-9A-F]{8}, the data has 0x[0-9A-F]{8}$/);
  });

  it("refuses a compressed entry as the device does", () => {
    const zip = rawZip([{ name: "p/manifest.json", data: Buffer.from("{}") }, { name: "p/app.bin", data: Buffer.alloc(1000, 7), method: 8 }]);
    assert.equal(infoZipTest(zip).status, 0, "the fixture itself is a good zip");
    assert.throws(() => readStoredZip(zip), /^FwZipError: Cannot handle compressed \.zip: entry "p\/app.bin" uses method 8 \(deflate\)/);
  });

  it("refuses the data-descriptor layout of Go's stock writer, cleanly", () => {
    const zip = rawZip([
      { name: "p/manifest.json", data: Buffer.from("{}"), dataDescriptor: true },
      { name: "p/app.bin", data: Buffer.alloc(1000, 7), dataDescriptor: true },
    ]);
    const r = infoZipTest(zip);
    assert.equal(r.status, 0, `the fixture itself is a good zip: ${r.output}`);
    assert.throws(() => readStoredZip(zip), /^FwZipError: entry "p\/manifest.json" has a data descriptor \(general-purpose bit 3\)/);
  });

  it("refuses a central directory that disagrees with the local headers, and trailing bytes", () => {
    const zip = bigZip();
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), localHeaders(zip)[1]!);
    const stale = Buffer.from(zip);
    stale.writeUInt32LE(0, central + 16);
    assert.throws(() => readStoredZip(stale), /Malformed archive: the central directory and the local header of "x-1\/manifest.json" disagree on the CRC/);
    assert.throws(() => readStoredZip(Buffer.concat([zip, Buffer.from("junk")])), /Malformed archive: 4 unexpected bytes after the end of central directory record/);
    const wrongSize = Buffer.from(zip);
    wrongSize.writeUInt32LE(0, localHeaders(zip)[1]! + 18);
    assert.throws(() => readStoredZip(wrongSize), /Malformed archive: stored entry "x-1\/app.bin" has compressed size 0 but size 100000/);
  });

  it("calls an empty archive empty", () => {
    assert.throws(() => readStoredZip(writeStoredZip([], { modified })), /empty zip: no entries/);
  });
});
