import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import {
  OTADATA_SECTOR_SIZE,
  OTADATA_SIZE,
  OtaImageState,
  blankOtadata,
  decodeOtaSelectEntry,
  decodeOtadata,
  encodeOtaSelectEntry,
  encodeOtadata,
  otaSeqCrc,
  otaSlotForSeq,
  otaStateName,
  otadataBootingSlot,
  selectActiveEntry,
} from "./otadata.js";

describe("otadata", () => {
  describe("crc of ota_seq (esp_rom_crc32_le(UINT32_MAX, &seq, 4))", () => {
    it("matches the spec's Python zlib vectors", () => {
      assert.equal(otaSeqCrc(1), 0x4743989a);
      assert.equal(otaSeqCrc(2), 0x55f63774);
      assert.equal(otaSeqCrc(3), 0xed4a5011);
      assert.equal(otaSeqCrc(0xffffffff), 0x2144df1c);
    });

    const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    (zlibCrc32 ? it : it.skip)("equals node:zlib crc32(le32(seq), 0xFFFFFFFF) for many seqs", () => {
      for (const seq of [0, 4, 17, 255, 256, 65537, 0x12345678, 0xfffffffe]) {
        const le = Buffer.alloc(4);
        le.writeUInt32LE(seq);
        assert.equal(otaSeqCrc(seq), zlibCrc32!(le, 0xffffffff), `seq ${seq}`);
      }
    });
  });

  it("encodes an entry byte for byte: seq, 20 bytes of 0xFF label, state, crc", () => {
    const bytes = encodeOtaSelectEntry({ seq: 2, state: OtaImageState.NEW });
    assert.equal(bytes.toString("hex"), "02000000" + "ff".repeat(20) + "00000000" + "7437f655");
  });

  it("round-trips an entry with its label", () => {
    const label = Buffer.from("abcdefghijklmnopqrst");
    const decoded = decodeOtaSelectEntry(encodeOtaSelectEntry({ seq: 7, state: OtaImageState.PENDING_VERIFY, seqLabel: label }));
    assert.deepEqual(decoded, { seq: 7, seqLabel: label, state: 1, crc: otaSeqCrc(7), crcOk: true, valid: true });
  });

  it("judges validity as the bootloader does", () => {
    const valid = (seq: number, state: number, crc?: number) =>
      decodeOtaSelectEntry(encodeOtaSelectEntry({ seq, state, crc })).valid;
    assert.equal(valid(1, OtaImageState.NEW), true);
    assert.equal(valid(1, OtaImageState.PENDING_VERIFY), true);
    assert.equal(valid(1, OtaImageState.VALID), true);
    assert.equal(valid(1, OtaImageState.UNDEFINED), true);
    assert.equal(valid(1, OtaImageState.INVALID), false);
    assert.equal(valid(1, OtaImageState.ABORTED), false);
    assert.equal(valid(1, OtaImageState.VALID, 0x12345678), false);
    assert.equal(valid(0xffffffff, OtaImageState.VALID), false);
  });

  it("lays the two entries at the start of each 4 KB sector, the rest erased", () => {
    const data = encodeOtadata([{ seq: 1, state: OtaImageState.VALID }, { seq: 2, state: OtaImageState.NEW }]);
    assert.equal(data.length, 0x2000);
    assert.equal(data.readUInt32LE(0), 1);
    assert.equal(data.readUInt32LE(OTADATA_SECTOR_SIZE), 2);
    assert.ok(data.subarray(32, OTADATA_SECTOR_SIZE).every((b) => b === 0xff));
    assert.ok(data.subarray(OTADATA_SECTOR_SIZE + 32).every((b) => b === 0xff));
    const decoded = decodeOtadata(data);
    assert.equal(decoded.active, 1);
    assert.equal(decoded.entries[1].state, OtaImageState.NEW);
  });

  it("selects the highest valid seq, entry 0 on a tie, -1 when none is valid", () => {
    assert.equal(selectActiveEntry([{ seq: 3, valid: true }, { seq: 2, valid: true }]), 0);
    assert.equal(selectActiveEntry([{ seq: 3, valid: true }, { seq: 4, valid: true }]), 1);
    assert.equal(selectActiveEntry([{ seq: 5, valid: true }, { seq: 5, valid: true }]), 0);
    assert.equal(selectActiveEntry([{ seq: 9, valid: false }, { seq: 2, valid: true }]), 1);
    assert.equal(selectActiveEntry([{ seq: 2, valid: true }, { seq: 9, valid: false }]), 0);
    assert.equal(selectActiveEntry([{ seq: 1, valid: false }, { seq: 2, valid: false }]), -1);
  });

  it("an ABORTED newer entry falls back to the older one (rollback)", () => {
    const data = encodeOtadata([{ seq: 1, state: OtaImageState.VALID }, { seq: 2, state: OtaImageState.ABORTED }]);
    assert.equal(decodeOtadata(data).active, 0);
  });

  it("blank otadata is all 0xFF with no active entry", () => {
    const blank = blankOtadata();
    assert.equal(blank.length, OTADATA_SIZE);
    assert.ok(blank.every((b) => b === 0xff));
    const decoded = decodeOtadata(blank);
    assert.equal(decoded.active, -1);
    assert.equal(decoded.entries[0].crcOk, false);
  });

  it("otadataBootingSlot writes what set_actual_ota_seq writes: sector 0 = {slot + 1, VALID}", () => {
    const data = otadataBootingSlot(1);
    const { entries, active } = decodeOtadata(data);
    assert.equal(active, 0);
    assert.equal(entries[0].seq, 2);
    assert.equal(entries[0].state, OtaImageState.VALID);
    assert.ok(entries[0].seqLabel.every((b) => b === 0xff));
    assert.ok(data.subarray(OTADATA_SECTOR_SIZE).every((b) => b === 0xff));
    assert.throws(() => otadataBootingSlot(16), { name: "OtadataError", message: "OTA slot 16 is not in 0..15" });
  });

  it("maps seq to slot as (seq - 1) % count", () => {
    assert.equal(otaSlotForSeq(1, 2), 0);
    assert.equal(otaSlotForSeq(2, 2), 1);
    assert.equal(otaSlotForSeq(3, 2), 0);
    assert.equal(otaSlotForSeq(5, 3), 1);
    assert.throws(() => otaSlotForSeq(0, 2), { message: "ota_seq 0 does not select a slot" });
    assert.throws(() => otaSlotForSeq(1, 0), { message: "OTA slot count 0 must be at least 1" });
  });

  it("names states", () => {
    assert.equal(otaStateName(OtaImageState.PENDING_VERIFY), "PENDING_VERIFY");
    assert.equal(otaStateName(0xffffffff), "UNDEFINED");
    assert.equal(otaStateName(7), "unknown state 0x7");
  });

  it("rejects malformed input with exact errors", () => {
    assert.throws(() => decodeOtadata(Buffer.alloc(0x1000)), {
      name: "OtadataError",
      message: "otadata truncated: 0x1000 bytes, need 0x2000 (two sectors)",
    });
    assert.throws(() => decodeOtaSelectEntry(Buffer.alloc(31)), { message: "otadata entry truncated: 31 bytes, need 32" });
    assert.throws(() => encodeOtaSelectEntry({ seq: -1, state: 0 }), { message: "ota_seq -1 is not a u32" });
    assert.throws(() => encodeOtaSelectEntry({ seq: 1, state: 0, seqLabel: Buffer.alloc(4) }), {
      message: "seq_label is 4 bytes, must be 20",
    });
  });
});
