import assert from "node:assert/strict";
import { SlipDecoder, encodeSlip } from "./slip.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("SLIP codec of the ESP32 serial loader", () => {
  // esptool docs, serial-protocol.rst "Tracing": the SYNC command on the wire.
  const syncWire = hex(`c000082400000000 0007071220${"55".repeat(32)} c0`);
  const syncPacket = syncWire.subarray(1, -1);

  it("frames a packet between two 0xC0 (the SYNC of esptool's trace)", () => {
    assert.deepEqual(encodeSlip(syncPacket), syncWire);
  });

  it("escapes 0xC0 as DB DC and 0xDB as DB DD, after the lengths are computed", () => {
    assert.deepEqual(encodeSlip(hex("01 c0 02 db 03")), hex("c0 01 dbdc 02 dbdd 03 c0"));
  });

  it("decodes packets split anywhere, and back-to-back packets sharing nothing but their ENDs", () => {
    const wire = Buffer.concat([encodeSlip(hex("01 c0 db")), encodeSlip(hex("4f484149"))]);
    const decoder = new SlipDecoder(64);
    const packets = [...wire].flatMap((byte) => decoder.push(Buffer.from([byte])));
    assert.deepEqual(packets, [hex("01 c0 db"), hex("4f484149")]);
  });

  it("ignores text outside packets, such as a boot banner", () => {
    const decoder = new SlipDecoder(64);
    const packets = decoder.push(Buffer.concat([Buffer.from("waiting for download\n"), syncWire]));
    assert.deepEqual(packets, [syncPacket]);
  });

  it("drops a packet longer than its limit and one with a broken escape, then recovers", () => {
    const decoder = new SlipDecoder(8);
    assert.deepEqual(decoder.push(hex(`c0 ${"00".repeat(9)} c0`)), []);
    assert.deepEqual(decoder.push(hex("c0 01 db 02 03 c0")), []);
    assert.deepEqual(decoder.push(hex("c0 0102 c0")), [hex("0102")]);
  });
});
