import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildAppImage, type SegmentInput } from "../../host/fwpack/app-image.ts";
import { ChipId } from "../../host/fwpack/image-header.ts";
import { AppImageCheck, chipIdOf, type AppImageCheckOptions } from "ota/image-check";
import { UpdateError } from "ota/update-error";

// Images come from host/fwpack's builder, which host/fwpack/app-image.test.ts
// holds to ESP-IDF's layout: the check must take whatever it builds.

const xor = (bytes: Uint8Array, seed: number) => bytes.reduce((sum, byte) => sum ^ byte, seed);

const segments: SegmentInput[] = [
  // DROM (0x...20 keeps its data congruent with its flash offset), an empty padding segment, RAM.
  { loadAddr: 0x3f400020, data: new Uint8Array(300).map((_, i) => i * 7) },
  { loadAddr: 0, data: new Uint8Array(0) },
  { loadAddr: 0x3ffb0000, data: new Uint8Array(1001).map((_, i) => i ^ 0x5a) },
];

function check(image: Uint8Array, options: Partial<AppImageCheckOptions> = {}): AppImageCheck {
  return new AppImageCheck({ name: "xs-ota.bin", size: image.length, chipId: ChipId.ESP32, checksum: xor, ...options });
}

/** Push the whole file in pieces of `step` bytes, then end it. */
function pushAll(target: AppImageCheck, image: Uint8Array, step = image.length): void {
  for (let at = 0; at < image.length; at += step) target.push(image.subarray(at, at + step));
  target.end();
}

function refusal(image: Uint8Array, options: Partial<AppImageCheckOptions> = {}, step?: number): { code: number; message: string } {
  try {
    pushAll(check(image, options), image, step);
  } catch (e) {
    assert.ok(e instanceof UpdateError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail("the image was taken");
}

/** The checksum byte's offset: the last byte before the SHA-256. */
const checksumAt = (image: Uint8Array) => image.length - 33;

describe("AppImageCheck", () => {
  const image = buildAppImage({ segments });

  describe("takes valid images", () => {
    it("whole, or split anywhere, and finds the appended SHA-256", () => {
      for (const step of [image.length, 1, 3, 8, 13, 24, 25, 100]) {
        const target = check(image);
        pushAll(target, image, step);
        const length = image.length - 32;
        assert.deepEqual(target.appendedSha256, { length, hex: createHash("sha256").update(image.subarray(0, length)).digest("hex") }, `step ${step}`);
      }
    });

    it("without a hash, with no segment, and with bytes after the image", () => {
      const noHash = buildAppImage({ segments, header: { hashAppended: false } });
      const target = check(noHash);
      pushAll(target, noHash);
      assert.equal(target.appendedSha256, undefined);
      pushAll(check(buildAppImage({ segments: [] })), buildAppImage({ segments: [] }));
      const padded = Buffer.concat([image, Buffer.alloc(4096, 0xff)]);
      pushAll(check(padded), padded, 1000);
    });

    it("of other chips, when the board is that chip; any chip when the board's is unknown", () => {
      const s3 = buildAppImage({ segments, header: { chipId: ChipId.ESP32S3 } });
      pushAll(check(s3, { chipId: ChipId.ESP32S3 }), s3);
      pushAll(check(s3, { chipId: undefined }), s3);
      assert.equal(chipIdOf(s3), 9);
    });
  });

  describe("refuses, saying what is wrong", () => {
    it("a file that is no app image, at its first byte", () => {
      const target = check(Buffer.from("PK\x03\x04 a zip, not an image"), { size: 1000 });
      assert.throws(() => target.push(Buffer.from("P")), { code: -39, message: "Invalid app image: xs-ota.bin is not an ESP32 app image: first byte 0x50, expected 0xE9" });
    });

    it("an image for another chip, naming both", () => {
      const s3 = buildAppImage({ segments, header: { chipId: ChipId.ESP32S3 } });
      assert.deepEqual(refusal(s3, {}, 14), { code: -5, message: "Wrong platform: xs-ota.bin is built for chip id 9 (ESP32-S3), this board is 0 (ESP32)" });
      const c3 = buildAppImage({ segments, header: { chipId: ChipId.ESP32C3 } });
      assert.deepEqual(refusal(c3, { chipId: ChipId.ESP32S3 }), { code: -5, message: "Wrong platform: xs-ota.bin is built for chip id 5 (ESP32-C3), this board is 9 (ESP32-S3)" });
      const future = Buffer.from(image);
      future.writeUInt16LE(0x77, 12);
      assert.match(refusal(future).message, /built for chip id 119 \(unknown chip\), this board is 0 \(ESP32\)$/);
    });

    it("more than 16 segments", () => {
      const bad = Buffer.from(image);
      bad[1] = 17;
      assert.deepEqual(refusal(bad), { code: -39, message: "Invalid app image: xs-ota.bin has 17 segments, at most 16" });
    });

    it("a segment length that is no multiple of 4, or 16 MB", () => {
      const odd = Buffer.from(image);
      odd.writeUInt32LE(299, 24 + 4);
      assert.equal(refusal(odd).message, "Invalid app image: xs-ota.bin segment 0 is 299 bytes; a segment is a multiple of 4 bytes, below 16 MB");
      const huge = Buffer.from(image);
      huge.writeUInt32LE(0x1000000, 24 + 8 + 300 + 4);
      assert.equal(refusal(huge).message, `Invalid app image: xs-ota.bin segment 1 is ${0x1000000} bytes; a segment is a multiple of 4 bytes, below 16 MB`);
    });

    it("a segment running past the end of the file, before its data arrives", () => {
      const target = check(image, { size: 200 });
      assert.throws(() => target.push(image.subarray(0, 32)), {
        code: -39,
        message: "Invalid app image: xs-ota.bin segment 0 (300 bytes at offset 32) runs past the end of the file (200 bytes)",
      });
    });

    it("a file that ends before the checksum or the SHA-256", () => {
      const noHash = buildAppImage({ segments, header: { hashAppended: false } });
      assert.match(refusal(noHash.subarray(0, noHash.length - 1)).message, /xs-ota.bin ends at \d+ bytes, before its checksum \(the image needs \d+\)$/);
      const cut = image.subarray(0, image.length - 1);
      assert.equal(refusal(cut).message, `Invalid app image: xs-ota.bin ends at ${cut.length} bytes, before its checksum and SHA-256 (the image needs ${image.length})`);
    });

    it("a file too short for a header", () => {
      assert.throws(() => check(image.subarray(0, 23)), { code: -39, message: "Invalid app image: xs-ota.bin is 23 bytes, shorter than an app image header (24)" });
    });

    it("a checksum that differs, with both values, once the file has ended: a changed data byte or checksum byte", () => {
      const stored = image[checksumAt(image)]!;
      const data = Buffer.from(image);
      data[24 + 8 + 10] ^= 0x21;
      assert.deepEqual(refusal(data, {}, 7), { code: -39, message: `Invalid app image: xs-ota.bin checksum ${hex(stored)}, computed ${hex(stored ^ 0x21)}` });
      const sum = Buffer.from(image);
      sum[checksumAt(image)] ^= 0xff;
      assert.equal(refusal(sum).message, `Invalid app image: xs-ota.bin checksum ${hex(stored ^ 0xff)}, computed ${hex(stored)}`);
      const target = check(sum);
      target.push(sum);
      assert.throws(() => target.end(), { code: -39 });
    });
  });

  it("leaves the SHA-256 to the caller: a wrong one is only reported as found", () => {
    const bad = Buffer.from(image);
    bad[bad.length - 1] ^= 1;
    const target = check(bad);
    pushAll(target, bad);
    assert.equal(target.appendedSha256!.hex, bad.subarray(bad.length - 32).toString("hex"));
  });
});

function hex(byte: number): string {
  return `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}
