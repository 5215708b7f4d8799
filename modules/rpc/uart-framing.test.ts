import assert from "node:assert/strict";
import { UartFraming, asciiJson } from "rpc/uart-framing";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("UART framing (device side)", () => {
  it("delivers a newline-delimited frame without CRC and replies without CRC", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('{"id":1,"method":"RPC.Ping"}\n')), [{ kind: "frame", json: '{"id":1,"method":"RPC.Ping"}' }]);
    assert.equal(u.encode('{"id":1,"result":null}'), '\n{"id":1,"result":null}\n');
  });
  it("verifies the spec's CRC example 010a4ff9 and then replies with CRCs", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('{"method":"Sys.GetInfo"}010a4ff9\n')), [{ kind: "frame", json: '{"method":"Sys.GetInfo"}' }]);
    assert.equal(u.crcMode, true);
    assert.equal(u.encode('{"method":"Sys.GetInfo"}'), '\n{"method":"Sys.GetInfo"}010a4ff9\n');
  });
  it("ignores metadata fields after the CRC", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('{"method":"Sys.GetInfo"}010a4ff9,a,b\n')), [{ kind: "frame", json: '{"method":"Sys.GetInfo"}' }]);
  });
  it("drops a frame whose CRC is wrong, and stays out of CRC mode", () => {
    const u = new UartFraming();
    const [e] = u.receive(bytes('{"method":"Sys.GetInfo"}010a4ff8\n'));
    assert.equal(e?.kind, "dropped");
    assert.equal(u.crcMode, false);
  });
  it("takes mos's \"\"\"-wrapped frame with CRC and answers in the same format (sticky compat)", () => {
    const u = new UartFraming();
    const events = u.receive(bytes('\n"""{"src":"mos","id":1099511628211,"method":"RPC.Ping"}4fff1bd9"""\n'));
    assert.deepEqual(events, [
      { kind: "reply", text: "\n" },
      { kind: "frame", json: '{"src":"mos","id":1099511628211,"method":"RPC.Ping"}' },
      { kind: "reply", text: "\n" },
    ]);
    assert.equal(
      u.encode('{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"channel_info":"UART0"}}'),
      '\n"""{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"channel_info":"UART0"}}cc11a353"""\n',
    );
    // Compat mode is sticky: a later plain line still gets a wrapped reply.
    u.receive(bytes('{"id":2,"method":"X"}\n'));
    assert.match(u.encode("{}"), /^\n"""\{\}[0-9a-f]{8}"""\n$/);
  });
  it("answers mos's handshake \"\"\"\\x04\"\"\"\\n\\n with \"\"\"\\x04\"\"\" and empty frames", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('"""\x04"""\n\n')), [
      { kind: "reply", text: "\n" },
      { kind: "reply", text: '"""\x04"""' },
      { kind: "reply", text: "\n" },
      { kind: "reply", text: "\n" },
    ]);
  });
  it("keeps working across thousands of handshake+frame rounds", () => {
    const u = new UartFraming();
    let frames = 0;
    for (let i = 0; i < 3000; i++) {
      for (const e of u.receive(bytes('"""\x04"""\n\n\n"""{"id":' + i + ',"method":"RPC.Ping"}"""\n'))) if (e.kind === "frame") frames++;
    }
    assert.equal(frames, 3000);
  });
  it("replies to an empty line with an empty frame", () => {
    assert.deepEqual(new UartFraming().receive(bytes("  \r\n")), [{ kind: "reply", text: "\n" }]);
  });
  it("skips log text and junk before '{', and ignores lines with no frame", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('I (123) boot: junk {"id":1,"method":"X"}\nhello\n')), [{ kind: "frame", json: '{"id":1,"method":"X"}' }]);
  });
  it("reassembles a frame split across reads", () => {
    const u = new UartFraming();
    assert.deepEqual(u.receive(bytes('{"id":1,"me')), []);
    assert.deepEqual(u.receive(bytes('thod":"X"}\n')), [{ kind: "frame", json: '{"id":1,"method":"X"}' }]);
  });
  it("discards the whole buffer when a byte >= 0x80 arrives", () => {
    const u = new UartFraming();
    u.receive(bytes('{"id":1,"method"'));
    const events = u.receive(Uint8Array.of(0x3a, 0xff, 0x22));
    assert.deepEqual(events, [{ kind: "dropped", reason: "non-ASCII byte, receive buffer discarded" }]);
    assert.deepEqual(u.receive(bytes('"X"}\n{"id":2,"method":"Y"}\n')), [{ kind: "frame", json: '{"id":2,"method":"Y"}' }]);
  });
  it("drops a frame over the size limit (4096 + 6) and recovers", () => {
    const u = new UartFraming();
    const events = u.receive(bytes('{"id":1,"method":"X","params":"' + "a".repeat(4200)));
    assert.deepEqual(events, [{ kind: "dropped", reason: "incoming frame is too big" }]);
    assert.deepEqual(u.receive(bytes('{"id":3,"method":"Z"}\n')), [{ kind: "frame", json: '{"id":3,"method":"Z"}' }]);
  });
  it("accepts a frame of exactly the limit", () => {
    const u = new UartFraming();
    const json = '{"id":1,"method":"X","params":"' + "a".repeat(4096 - 33) + '"}';
    assert.equal(json.length, 4096);
    assert.deepEqual(u.receive(bytes(json + "\n")), [{ kind: "frame", json }]);
  });
  it("keeps replies ASCII: non-ASCII characters become \\u escapes", () => {
    assert.equal(asciiJson('{"s":"héllo ✓"}'), '{"s":"h\\u00e9llo \\u2713"}');
    assert.deepEqual(JSON.parse(asciiJson('{"s":"héllo ✓"}')), { s: "héllo ✓" });
  });
});
