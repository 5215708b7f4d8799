import assert from "node:assert/strict";
import { IAC, Option, SB, SE, TelnetDecoder, WILL, escapeData, subnegotiation } from "./telnet.ts";

describe("telnet framing for RFC 2217", () => {
  it("splits data, negotiation and subnegotiation, undoubles 0xFF, across arbitrary read boundaries", () => {
    const wire = Buffer.concat([Buffer.from([0x41, IAC, IAC, 0x42, IAC, WILL, Option.COM_PORT]), subnegotiation(Option.COM_PORT, Buffer.from([5, IAC])), Buffer.from([0x43])]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const decoder = new TelnetDecoder();
      const events = [...decoder.push(wire.subarray(0, cut)), ...decoder.push(wire.subarray(cut))];
      const data = Buffer.concat(events.flatMap((e) => (e.kind === "data" ? [e.bytes] : [])));
      assert.deepEqual(data, Buffer.from([0x41, IAC, 0x42, 0x43]), `cut at ${cut}`);
      assert.deepEqual(events.filter((e) => e.kind !== "data"), [
        { kind: "negotiate", verb: WILL, option: Option.COM_PORT },
        { kind: "subnegotiation", option: Option.COM_PORT, payload: Buffer.from([5, IAC]) },
      ]);
    }
  });

  it("doubles 0xFF in data and inside a subnegotiation", () => {
    assert.deepEqual(escapeData(Buffer.from([1, IAC, 2])), Buffer.from([1, IAC, IAC, 2]));
    assert.deepEqual(subnegotiation(Option.COM_PORT, Buffer.from([IAC])), Buffer.from([IAC, SB, Option.COM_PORT, IAC, IAC, IAC, SE]));
  });
});
