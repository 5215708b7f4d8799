import assert from "node:assert/strict";
import { APP_DESC_OFFSETS, APP_DESC_SIZE, compilerDateTime, decodeAppDescription, encodeAppDescription } from "./app-desc.js";

describe("esp_app_desc_t (IDF v5.x layout)", () => {
  const sha = Buffer.from("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex");
  const desc = {
    secureVersion: 7,
    version: "1.2.3",
    projectName: "xs-ota",
    time: "12:34:56",
    date: "Jan  2 2025",
    idfVer: "v5.5.1",
    appElfSha256: sha,
    minEfuseBlkRevFull: 1,
    maxEfuseBlkRevFull: 0x0203,
    mmuPageSize: 16,
  };

  it("writes every field at its offset, reserved bytes zero", () => {
    const b = encodeAppDescription(desc);
    assert.equal(b.length, APP_DESC_SIZE);
    assert.equal(b.readUInt32LE(0), 0xabcd5432);
    assert.equal(b.readUInt32LE(4), 7);
    assert.ok(b.subarray(8, 16).every((x) => x === 0));
    assert.equal(b.subarray(16, 48).toString("latin1"), "1.2.3".padEnd(32, "\0"));
    assert.equal(b.subarray(48, 80).toString("latin1"), "xs-ota".padEnd(32, "\0"));
    assert.equal(b.subarray(80, 96).toString("latin1"), "12:34:56".padEnd(16, "\0"));
    assert.equal(b.subarray(96, 112).toString("latin1"), "Jan  2 2025".padEnd(16, "\0"));
    assert.equal(b.subarray(112, 144).toString("latin1"), "v5.5.1".padEnd(32, "\0"));
    assert.ok(b.subarray(144, 176).equals(sha));
    assert.equal(b.readUInt16LE(176), 1);
    assert.equal(b.readUInt16LE(178), 0x0203);
    assert.equal(b[180], 16);
    assert.ok(b.subarray(181, 256).every((x) => x === 0));
    assert.deepEqual(APP_DESC_OFFSETS, {
      magicWord: 0, secureVersion: 4, reserv1: 8, version: 16, projectName: 48, time: 80, date: 96, idfVer: 112,
      appElfSha256: 144, minEfuseBlkRevFull: 176, maxEfuseBlkRevFull: 178, mmuPageSize: 180, reserv3: 181, reserv2: 184,
    });
  });

  it("round-trips", () => {
    assert.deepEqual(decodeAppDescription(encodeAppDescription(desc)), desc);
  });

  it("fills ESP32 defaults: secure version 0, empty time and date, eFuse block rev 0..99, 64 KB pages", () => {
    const d = decodeAppDescription(encodeAppDescription({ version: "v", projectName: "p", idfVer: "v5.5.1", time: undefined }));
    assert.deepEqual(
      [d.secureVersion, d.time, d.date, d.minEfuseBlkRevFull, d.maxEfuseBlkRevFull, d.mmuPageSize, d.appElfSha256.equals(Buffer.alloc(32))],
      [0, "", "", 0, 99, 16, true],
    );
  });

  it("keeps room for the NUL as IDF's static asserts do (31 bytes of version at most)", () => {
    assert.equal(decodeAppDescription(encodeAppDescription({ ...desc, version: "v".repeat(31) })).version, "v".repeat(31));
    assert.throws(() => encodeAppDescription({ ...desc, version: "v".repeat(32) }), {
      name: "AppImageError",
      message: `esp_app_desc_t version "${"v".repeat(32)}" is 32 bytes; at most 31 fit`,
    });
    assert.throws(() => encodeAppDescription({ ...desc, date: "January 2nd 2025" }), {
      message: 'esp_app_desc_t date "January 2nd 2025" is 16 bytes; at most 15 fit',
    });
  });

  it("reads an unterminated field written by another tool in full", () => {
    const b = encodeAppDescription(desc);
    b.fill(0x41, 16, 48);
    assert.equal(decodeAppDescription(b).version, "A".repeat(32));
  });

  it("rejects bad magic and short input", () => {
    const b = encodeAppDescription(desc);
    b[0] = 0;
    assert.throws(() => decodeAppDescription(b), { message: "esp_app_desc_t magic is 0xABCD5400, expected 0xABCD5432" });
    assert.throws(() => decodeAppDescription(b.subarray(0, 255)), { message: "esp_app_desc_t truncated: 255 bytes, need 256" });
    assert.throws(() => encodeAppDescription({ ...desc, appElfSha256: Buffer.alloc(31) }), {
      message: "esp_app_desc_t: app_elf_sha256 is 31 bytes, must be 32",
    });
  });

  it("formats __DATE__ and __TIME__ like a C compiler, in UTC", () => {
    assert.deepEqual(compilerDateTime(new Date("2016-06-08T00:22:57Z")), { date: "Jun  8 2016", time: "00:22:57" });
    assert.deepEqual(compilerDateTime(new Date("2025-12-31T23:59:09Z")), { date: "Dec 31 2025", time: "23:59:09" });
  });
});
