import assert from "node:assert/strict";
import {
  ESP32_DEFAULT_HEADER,
  IMAGE_HEADER_OFFSETS,
  IMAGE_HEADER_SIZE,
  decodeImageHeader,
  encodeImageHeader,
  type ImageHeader,
} from "./image-header.js";

describe("esp_image_header_t", () => {
  const header: ImageHeader = {
    segmentCount: 3,
    spiMode: 3,
    spiSpeed: 0xf,
    spiSize: 4,
    entryAddr: 0x400812a4,
    wpPin: 0xee,
    spiPinDrv: [1, 2, 3],
    chipId: 0x0009,
    minChipRev: 1,
    minChipRevFull: 0x0102,
    maxChipRevFull: 0x0304,
    hashAppended: true,
  };

  it("puts every field at its packed offset", () => {
    const b = encodeImageHeader(header);
    assert.equal(b.length, IMAGE_HEADER_SIZE);
    assert.equal(b.toString("hex"), "e9" + "03" + "03" + "4f" + "a4120840" + "ee" + "010203" + "0900" + "01" + "0201" + "0403" + "00000000" + "01");
    assert.deepEqual(IMAGE_HEADER_OFFSETS, {
      magic: 0, segmentCount: 1, spiMode: 2, spiSpeedAndSize: 3, entryAddr: 4, wpPin: 8, spiPinDrv: 9,
      chipId: 12, minChipRev: 14, minChipRevFull: 15, maxChipRevFull: 17, reserved: 19, hashAppended: 23,
    });
  });

  it("round-trips", () => {
    assert.deepEqual(decodeImageHeader(encodeImageHeader(header)), header);
  });

  it("defaults to an ESP32 image (chip 0, DIO 40 MHz 4 MB, max rev v3.99, hash appended)", () => {
    assert.equal(
      encodeImageHeader({ ...ESP32_DEFAULT_HEADER, segmentCount: 2 }).toString("hex"),
      "e9020220" + "00000840" + "ee000000" + "0000" + "00" + "0000" + "8f01" + "00000000" + "01",
    );
  });

  it("treats any non-zero hash_appended as set, as IDF does", () => {
    const b = encodeImageHeader(header);
    b[23] = 2;
    assert.equal(decodeImageHeader(b).hashAppended, true);
    b[23] = 0;
    assert.equal(decodeImageHeader(b).hashAppended, false);
  });

  it("rejects bad magic, too many segments, truncation and out-of-range fields", () => {
    const b = encodeImageHeader(header);
    assert.throws(() => decodeImageHeader(b.subarray(0, 23)), { name: "AppImageError", message: "image truncated: 23 bytes, the header needs 24" });
    b[0] = 0xff;
    assert.throws(() => decodeImageHeader(b), { message: "bad image magic 0xFF (expected 0xE9); nothing flashed here?" });
    b[0] = 0xe9;
    b[1] = 17;
    assert.throws(() => decodeImageHeader(b), { message: "segment count 17 exceeds the maximum of 16" });
    assert.throws(() => encodeImageHeader({ ...header, spiSpeed: 16 }), { message: "image header: spi_speed 16 is not in 0..0xF" });
  });
});
