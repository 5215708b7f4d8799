import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildId } from "sys/identity";
import { infoZipTest, rawZip } from "../../test/zip-fixtures.ts";
import { appBuildInfo, packageAppImage, parseCompilerDateTime } from "./app-package.js";
import { encodeFwManifest, type FwManifest } from "./fw-manifest.js";
import { buildFwZip, parseFwZip, readFwZip } from "./fw-zip.js";
import { readStoredZip } from "./stored-zip-reader.js";
import { writeStoredZip } from "./stored-zip-writer.js";
import { buildVirtualBoardImage } from "./virtual-board-image.js";

const image = buildVirtualBoardImage({
  version: "1.2.3",
  projectName: "xs-ota",
  modules: [["main", "trace('hello');\n"]],
  date: "Jan  2 2025",
  time: "12:34:56",
});
const sha = (algorithm: string, data: Uint8Array) => createHash(algorithm).update(data).digest("hex");
const modified = new Date("2025-01-02T12:34:56Z");

/** A package as someone else might have written it: this manifest, these files, our zip layout. */
function repack(manifest: FwManifest, files: Array<[string, Uint8Array]>, dir = "xs-ota-1.2.3"): Buffer {
  return writeStoredZip(
    [{ name: `${dir}/manifest.json`, data: encodeFwManifest(manifest) }, ...files.map(([name, data]) => ({ name: `${dir}/${name}`, data }))],
    { modified },
  );
}

describe("fw.zip of an app image", () => {
  const built = packageAppImage(image);

  it("takes version, build_id and build_timestamp from the image's esp_app_desc_t", () => {
    assert.deepEqual(built.manifest, {
      name: "xs-ota",
      platform: "esp32",
      version: "1.2.3",
      build_id: "20250102-123456/1.2.3",
      build_timestamp: "2025-01-02T12:34:56Z",
      parts: {
        app: { type: "app", encrypt: true, ptn: "ota_0", src: "xs-ota.bin", size: image.length, cs_sha1: sha("sha1", image), cs_sha256: sha("sha256", image) },
      },
    });
    assert.equal(built.manifest.build_id, buildId("Jan  2 2025", "12:34:56", "1.2.3"), "what the firmware reports as fw_id");
  });

  it("lays out <name>-<version>/manifest.json first, then the image, dated at the build", () => {
    const entries = readStoredZip(built.zip);
    assert.deepEqual(entries.map((e) => e.name), ["xs-ota-1.2.3/manifest.json", "xs-ota-1.2.3/xs-ota.bin"]);
    assert.deepEqual(entries[0]!.data, encodeFwManifest(built.manifest));
    assert.deepEqual(entries[1]!.data, image);
    assert.equal(entries[1]!.modified.toISOString(), "2025-01-02T12:34:56.000Z");
  });

  it("is the same bytes every time, and Info-ZIP accepts it", () => {
    assert.deepEqual(packageAppImage(Buffer.from(image)).zip, built.zip);
    const r = infoZipTest(built.zip);
    assert.equal(r.status, 0, r.output);
  });

  it("reads back with every check passed", () => {
    const contents = readFwZip(built.zip);
    assert.deepEqual(contents.failures, []);
    const app = contents.parts[0]!;
    assert.deepEqual(app.checks.map((c) => [c.check, c.ok]), [
      ["src", true], ["size", true], ["cs_sha1", true], ["cs_sha256", true], ["app image", true], ["version", true], ["build_id", true],
    ]);
    assert.equal(app.app?.appDesc?.version, "1.2.3");
  });

  it("refuses an image the bootloader would refuse", () => {
    const broken = Buffer.from(image);
    broken[300]! ^= 1;
    assert.throws(() => packageAppImage(broken), /checksum mismatch/);
  });

  it("reads __DATE__/__TIME__ back, and does without them as the firmware does", () => {
    assert.equal(parseCompilerDateTime("Nov  7 2026", "09:05:01")?.toISOString(), "2026-11-07T09:05:01.000Z");
    assert.equal(parseCompilerDateTime("", ""), undefined);
    const info = appBuildInfo({ ...readFwZip(built.zip).parts[0]!.app!.appDesc!, date: "", time: "" });
    assert.deepEqual(info, { version: "1.2.3", buildId: "1.2.3" });
  });
});

describe("fw.zip layout", () => {
  it("puts the part files after the manifest, sorted by archive path", () => {
    const files = ["z.bin", "a.bin", "m.img"].map((src, i) => ({ part: `p${i}`, src, data: Buffer.from(src), attrs: { type: "x" } }));
    const { zip, directory } = buildFwZip({ name: "n", platform: "esp32", version: "1", buildId: "b", files, modified });
    assert.equal(directory, "n-1");
    assert.deepEqual(readStoredZip(zip).map((e) => e.name), ["n-1/manifest.json", "n-1/a.bin", "n-1/m.img", "n-1/z.bin"]);
  });

  it("refuses names the device could not take", () => {
    const options = { name: "n", platform: "esp32", version: "1", buildId: "b", modified };
    assert.throws(() => buildFwZip({ ...options, version: "1/2", files: [] }), /package version "1\/2" must be non-empty and free of "\/"/);
    const long = { part: "app", src: "x".repeat(50), data: Buffer.alloc(1), attrs: {} };
    assert.throws(() => buildFwZip({ ...options, files: [long] }), /^FwZipError: Too long file name: part "app" src "x{50}" is 50 bytes; the device takes at most 49$/);
    const { manifest } = packageAppImage(image);
    assert.throws(
      () => parseFwZip(repack(manifest, [["xs-ota.bin", image], ["y".repeat(50), Buffer.alloc(1)]])),
      /^FwZipError: Too long file name: entry "xs-ota-1.2.3\/y{50}": file name "y{50}" is 50 bytes/,
    );
  });
});

describe("fw.zip checks", () => {
  const { manifest, zip } = packageAppImage(image);
  const app = manifest.parts.app!;

  it("refuses a truncated package", () => {
    assert.throws(() => parseFwZip(zip.subarray(0, zip.length - 100)), /^FwZipError: truncated zip: /);
    assert.throws(() => parseFwZip(zip.subarray(0, 600)), /^FwZipError: truncated zip: the data of "xs-ota-1.2.3\/xs-ota.bin"/);
  });

  it("refuses a package whose manifest is not the first entry", () => {
    const swapped = writeStoredZip([{ name: "d/xs-ota.bin", data: image }, { name: "d/manifest.json", data: encodeFwManifest(manifest) }], { modified });
    assert.throws(() => parseFwZip(swapped), /^FwZipError: manifest.json is not the first entry \(the first is "d\/xs-ota.bin"\)/);
  });

  it("refuses compressed entries and data descriptors", () => {
    const compressed = rawZip([{ name: "d/manifest.json", data: encodeFwManifest(manifest), method: 8 }]);
    assert.throws(() => parseFwZip(compressed), /^FwZipError: Cannot handle compressed \.zip/);
    const streamed = rawZip([{ name: "d/manifest.json", data: encodeFwManifest(manifest), dataDescriptor: true }]);
    assert.throws(() => parseFwZip(streamed), /data descriptor \(general-purpose bit 3\)/);
  });

  it("refuses a bad CRC before looking at digests", () => {
    const corrupt = Buffer.from(zip);
    corrupt[corrupt.length - 200]! ^= 0x80; // inside the image
    assert.throws(() => parseFwZip(corrupt), /^FwZipError: Invalid CRC: entry "xs-ota-1.2.3\/xs-ota.bin"/);
  });

  it("refuses a manifest without a required field", () => {
    const { build_id: _, ...rest } = manifest;
    assert.throws(() => parseFwZip(repack(rest as FwManifest, [["xs-ota.bin", image]])), /^FwZipError: Required manifest field missing: build_id$/);
  });

  it("reports a digest that does not match, and readFwZip refuses it", () => {
    const wrong = { ...manifest, parts: { app: { ...app, cs_sha256: "00".repeat(32) } } };
    const zip2 = repack(wrong, [["xs-ota.bin", image]]);
    const contents = parseFwZip(zip2);
    const failed = contents.parts[0]!.checks.filter((c) => !c.ok);
    assert.deepEqual(failed.map((c) => [c.check, c.actual]), [["cs_sha256", sha("sha256", image)]]);
    assert.throws(
      () => readFwZip(zip2),
      new RegExp(`^FwZipError: Digest mismatch: part "app" \\(xs-ota.bin\\): cs_sha256 is 0{64} in the manifest, ${sha("sha256", image)} of the file$`),
    );
    const sha1 = repack({ ...manifest, parts: { app: { ...app, cs_sha1: "ab".repeat(20) } } }, [["xs-ota.bin", image]]);
    assert.throws(() => readFwZip(sha1), /^FwZipError: Digest mismatch: part "app" \(xs-ota.bin\): cs_sha1/);
  });

  it("refuses a manifest whose build_id or version is not the image's", () => {
    assert.throws(
      () => readFwZip(repack({ ...manifest, build_id: "20250102-123456/9.9.9" }, [["xs-ota.bin", image]])),
      /^FwZipError: build_id mismatch: the manifest says "20250102-123456\/9.9.9", the image will report fw_id "20250102-123456\/1.2.3"$/,
    );
    assert.throws(() => readFwZip(repack({ ...manifest, version: "2" }, [["xs-ota.bin", image]])), /^FwZipError: Version mismatch: the manifest says "2"/);
  });

  it("refuses an app part that is no app image, and a part whose file is missing", () => {
    const junk = Buffer.from("not an image, though long enough for a header");
    const notImage = repack({ ...manifest, parts: { app: { ...app, size: junk.length, cs_sha1: sha("sha1", junk), cs_sha256: sha("sha256", junk) } } }, [["xs-ota.bin", junk]]);
    assert.throws(() => readFwZip(notImage), /^FwZipError: part "app" \(xs-ota.bin\) is not a valid app image: bad image magic 0x6E \(expected 0xE9\)/);
    assert.throws(() => readFwZip(repack(manifest, [])), /^FwZipError: Incomplete update package: part "app" names "xs-ota.bin", which the zip does not hold$/);
  });

  it("refuses a size that is not the file's", () => {
    const zip2 = repack({ ...manifest, parts: { app: { ...app, size: 1 } } }, [["xs-ota.bin", image]]);
    assert.throws(() => readFwZip(zip2), new RegExp(`^FwZipError: Size mismatch: part "app" \\(xs-ota.bin\\): the manifest says 1 bytes, the file has ${image.length}$`));
  });

  it("accepts parts without a file, and files that no part names, as the device does", () => {
    const extra = { ...manifest, parts: { ...manifest.parts, nvs: { type: "nvs", ptn: "nvs", size: 0x4000, fill: 255 } } };
    const contents = readFwZip(repack(extra, [["xs-ota.bin", image], ["readme.txt", Buffer.from("hi")]]));
    assert.deepEqual(contents.parts.map((p) => [p.name, p.checks.length]), [["app", 7], ["nvs", 0]]);
    assert.equal(contents.entries.length, 3);
  });
});
