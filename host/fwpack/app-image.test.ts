import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeAppDescription } from "./app-desc.js";
import { buildAppImage, imageChecksum, paddedLength, parseAppImage, verifyAppImage } from "./app-image.js";

// One DRAM segment of 5 bytes (padded to 8): header 24 + segment header 8 + 8 = 40,
// padded to 48 with the checksum 0xEF^1^2^3^4^5 = 0xEE last, then the SHA-256.
// Computed independently with Python's struct and hashlib.
const TINY_IMAGE =
  "e901022000000840ee00000000000000008f0100000000010000fb3f08000000010203040500000000000000000000ee" +
  "c45ee11bed14f0cdccb879a698a9465fd35fc21dbe1db6b52dd54a9148dad685";

const tinySegments = [{ loadAddr: 0x3ffb0000, data: Buffer.from([1, 2, 3, 4, 5]) }];

function imageWithDesc(): Buffer {
  const desc = encodeAppDescription({ version: "1.0", projectName: "demo", idfVer: "v5.5.1" });
  return buildAppImage({
    segments: [
      { loadAddr: 0x3f400020, data: desc },
      { loadAddr: 0x3ffb0000, data: Buffer.from("data") },
    ],
  });
}

describe("app image", () => {
  it("builds the hand-computed tiny image byte for byte", () => {
    assert.equal(buildAppImage({ segments: tinySegments }).toString("hex"), TINY_IMAGE);
  });

  it("computes the checksum as 0xEF xor all segment data, padded to 16 with it as the last byte", () => {
    assert.equal(imageChecksum([]), 0xef);
    assert.equal(imageChecksum([Buffer.from([1, 2, 3, 4, 5, 0, 0, 0])]), 0xee);
    assert.equal(imageChecksum([Buffer.from([0xef, 0, 0, 0]), Buffer.from([0x10, 0x20, 0x30, 0x40])]), 0x10 ^ 0x20 ^ 0x30 ^ 0x40);
    assert.equal(paddedLength(40), 48);
    assert.equal(paddedLength(47), 48);
    assert.equal(paddedLength(48), 64); // the checksum byte always needs a byte of its own
  });

  it("parses the tiny image", () => {
    const parsed = parseAppImage(Buffer.from(TINY_IMAGE, "hex"));
    assert.equal(parsed.header.segmentCount, 1);
    assert.equal(parsed.segments[0]!.loadAddr, 0x3ffb0000);
    assert.equal(parsed.segments[0]!.dataOffset, 32);
    assert.equal(parsed.segments[0]!.data.toString("hex"), "0102030405000000");
    assert.deepEqual(parsed.checksum, { stored: 0xee, computed: 0xee });
    assert.equal(parsed.checksumOk, true);
    assert.equal(parsed.sha256Ok, true);
    assert.equal(parsed.imageLength, 80);
    assert.equal(parsed.trailingBytes, 0);
    assert.equal(parsed.appDesc, null);
    assert.equal(parsed.modules, undefined);
  });

  it("ends the image at the hash and counts what follows as trailing (an erased slot)", () => {
    const slot = Buffer.concat([Buffer.from(TINY_IMAGE, "hex"), Buffer.alloc(0x1000, 0xff)]);
    const parsed = verifyAppImage(slot, { partitionSize: slot.length, requireAppDesc: false });
    assert.equal(parsed.imageLength, 80);
    assert.equal(parsed.trailingBytes, 0x1000);
  });

  it("without hash_appended, ends at the checksum padding", () => {
    const image = buildAppImage({ segments: tinySegments, header: { hashAppended: false } });
    assert.equal(image.length, 48);
    const parsed = parseAppImage(image);
    assert.equal(parsed.sha256, null);
    assert.equal(parsed.sha256Ok, null);
    verifyAppImage(image, { requireAppDesc: false });
  });

  it("reads the app descriptor from segment 0 at image offset 32", () => {
    const image = imageWithDesc();
    assert.equal(image.readUInt32LE(32), 0xabcd5432);
    const parsed = verifyAppImage(image);
    assert.equal(parsed.appDesc?.version, "1.0");
    assert.equal(parsed.appDesc?.projectName, "demo");
  });

  it("hashes everything before the digest", () => {
    const image = imageWithDesc();
    const body = image.subarray(0, image.length - 32);
    assert.ok(createHash("sha256").update(body).digest().equals(image.subarray(image.length - 32)));
    assert.equal(body.length % 16, 0);
  });

  it("refuses a flash-mapped segment whose address does not match its offset modulo 64 KB", () => {
    assert.throws(() => buildAppImage({ segments: [{ loadAddr: 0x3f400000, data: Buffer.alloc(4) }] }), {
      name: "AppImageError",
      message: "segment 0: load address 0x3F400000 does not match its flash offset 0x20 modulo the 64 KB MMU page",
    });
    assert.throws(() => buildAppImage({ segments: [{ loadAddr: 0x400d0000, data: Buffer.alloc(4) }] }), {
      message: "segment 0: load address 0x400D0000 does not match its flash offset 0x20 modulo the 64 KB MMU page",
    });
    buildAppImage({ segments: [{ loadAddr: 0x3f810000, data: Buffer.alloc(4) }] }); // outside DROM: not mapped
  });

  it("refuses more than 16 segments", () => {
    const segments = Array.from({ length: 17 }, () => ({ loadAddr: 0, data: Buffer.alloc(4) }));
    assert.throws(() => buildAppImage({ segments }), { message: "17 segments exceed the maximum of 16" });
  });

  describe("malformed images", () => {
    const tiny = () => Buffer.from(TINY_IMAGE, "hex");

    it("bad magic", () => {
      const image = tiny();
      image[0] = 0xff;
      assert.throws(() => parseAppImage(image), { message: "bad image magic 0xFF (expected 0xE9); nothing flashed here?" });
    });

    it("truncated header, segment header, checksum and hash", () => {
      assert.throws(() => parseAppImage(tiny().subarray(0, 10)), { message: "image truncated: 10 bytes, the header needs 24" });
      const twoSegments = tiny();
      twoSegments[1] = 2;
      assert.throws(() => parseAppImage(twoSegments.subarray(0, 45)), {
        message: "image truncated: segment 1 header at 0x28 needs 8 bytes, image has 0x2D",
      });
      assert.throws(() => parseAppImage(tiny().subarray(0, 47)), {
        message: "image truncated: the checksum byte at 0x2F is past the end (0x2F bytes)",
      });
      assert.throws(() => parseAppImage(tiny().subarray(0, 79)), {
        message: "image truncated: the appended SHA-256 at 0x30 needs 32 bytes, image has 0x4F",
      });
    });

    it("segment overflow", () => {
      const image = tiny();
      image.writeUInt32LE(0x100, 28);
      assert.throws(() => parseAppImage(image), {
        message: "segment overflow: segment 0 has 0x100 bytes at 0x20, past the end of the image (0x50 bytes)",
      });
    });

    it("segment length not a multiple of 4, or 16 MB and more", () => {
      const image = tiny();
      image.writeUInt32LE(6, 28);
      assert.throws(() => parseAppImage(image), { message: "segment 0: invalid length 0x6 (must be a multiple of 4 below 16 MB)" });
      image.writeUInt32LE(0x1000000, 28);
      assert.throws(() => parseAppImage(image), { message: "segment 0: invalid length 0x1000000 (must be a multiple of 4 below 16 MB)" });
    });

    it("a mapped segment at the wrong address", () => {
      const image = tiny();
      image.writeUInt32LE(0x3f400000, 24);
      assert.throws(() => parseAppImage(image), {
        message: "segment 0: load address 0x3F400000 does not match its flash offset 0x20 modulo the 64 KB MMU page",
      });
      image.writeUInt32LE(0x3f400020, 24);
      assert.throws(() => parseAppImage(image, { flashOffset: 0x11000 }), {
        message: "segment 0: load address 0x3F400020 does not match its flash offset 0x11020 modulo the 64 KB MMU page",
      });
    });

    it("checksum: reported by parse, an error for verify", () => {
      const image = tiny();
      image[33] ^= 0x40;
      const parsed = parseAppImage(image);
      assert.deepEqual([parsed.checksumOk, parsed.checksum.stored, parsed.checksum.computed], [false, 0xee, 0xae]);
      assert.throws(() => verifyAppImage(image, { requireAppDesc: false }), { message: "checksum mismatch: stored 0xEE, computed 0xAE" });
    });

    it("hash: reported by parse, an error for verify", () => {
      const image = tiny();
      image[79] ^= 0x01;
      const parsed = parseAppImage(image);
      assert.equal(parsed.checksumOk, true);
      assert.equal(parsed.sha256Ok, false);
      assert.throws(() => verifyAppImage(image, { requireAppDesc: false }), {
        message: "SHA-256 mismatch: stored c45ee11bed14f0cdccb879a698a9465fd35fc21dbe1db6b52dd54a9148dad684, computed c45ee11bed14f0cdccb879a698a9465fd35fc21dbe1db6b52dd54a9148dad685",
      });
    });

    it("a header byte changed after signing: only the hash catches it", () => {
      const image = tiny();
      image[2] = 0x03; // DOUT instead of DIO
      assert.equal(parseAppImage(image).checksumOk, true);
      assert.throws(() => verifyAppImage(image, { requireAppDesc: false }), { message: /^SHA-256 mismatch/ });
    });
  });

  describe("verify", () => {
    it("checks the chip id, the chip revision window and the partition size", () => {
      const image = buildAppImage({ segments: tinySegments, header: { minChipRevFull: 100, maxChipRevFull: 301 } });
      const opts = { requireAppDesc: false };
      assert.throws(() => verifyAppImage(image, { ...opts, chipId: 9 }), { message: "image is for chip id 0, expected 9" });
      assert.throws(() => verifyAppImage(image, { ...opts, chipRevisionFull: 3 }), {
        message: "image needs chip revision v1.0 or later; the chip is v0.3",
      });
      assert.throws(() => verifyAppImage(image, { ...opts, chipRevisionFull: 302 }), {
        message: "image supports chip revisions up to v3.1; the chip is v3.2",
      });
      verifyAppImage(image, { ...opts, chipRevisionFull: 301 });
      assert.throws(() => verifyAppImage(image, { ...opts, partitionSize: 64 }), {
        message: "image length 0x50 does not fit in the partition (0x40 bytes)",
      });
      assert.throws(() => verifyAppImage(image, { ...opts, partitionSize: 0x1001000 }), {
        message: "partition size 0x1001000 is larger than 16 MB",
      });
    });

    it("treats max_chip_rev_full 0 and 0xFFFF as no maximum", () => {
      for (const maxChipRevFull of [0, 0xffff]) {
        verifyAppImage(buildAppImage({ segments: tinySegments, header: { maxChipRevFull } }), { requireAppDesc: false, chipRevisionFull: 999 });
      }
    });

    it("requires an app descriptor by default, with the precise reason", () => {
      assert.throws(() => verifyAppImage(Buffer.from(TINY_IMAGE, "hex")), { message: "esp_app_desc_t truncated: 8 bytes, need 256" });
      const noDesc = buildAppImage({ segments: [{ loadAddr: 0x3f400020, data: Buffer.alloc(256) }] });
      assert.throws(() => verifyAppImage(noDesc), { message: "esp_app_desc_t magic is 0x00000000, expected 0xABCD5432" });
      assert.throws(() => verifyAppImage(buildAppImage({ segments: [] })), { message: "image has no segment, so no esp_app_desc_t" });
    });
  });
});
