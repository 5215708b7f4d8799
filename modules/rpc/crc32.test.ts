import assert from "node:assert/strict";
import { crc32, crc32OfString, crcHex } from "rpc/crc32";

describe("crc32", () => {
  it("matches the spec's UART example: {\"method\":\"Sys.GetInfo\"} -> 010a4ff9", () => {
    assert.equal(crcHex(crc32OfString('{"method":"Sys.GetInfo"}')), "010a4ff9");
  });
  it("matches zlib on bytes and continues from a seed", () => {
    const bytes = new TextEncoder().encode("123456789");
    assert.equal(crc32(bytes), 0xcbf43926); // the standard check value
    assert.equal(crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4))), 0xcbf43926);
  });
  it("computes over a sub-range of a string", () => {
    assert.equal(crc32OfString('xx{"method":"Sys.GetInfo"}yy', 2, 26), 0x010a4ff9);
  });
  it("pads to eight lower-case hex digits", () => {
    assert.equal(crcHex(0x1a), "0000001a");
    assert.equal(crcHex(0xffffffff), "ffffffff");
  });
});
