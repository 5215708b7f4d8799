import assert from "node:assert/strict";
import { crc32 } from "rpc/crc32";
import { UartFraming, type UartEvent } from "rpc/uart-framing";
import { asciiJson } from "sys/utf8";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function receiveAll(u: UartFraming, input: Uint8Array): UartEvent[] {
  const events: UartEvent[] = [];
  u.receive(input, (e) => events.push(e));
  return events;
}

describe("UART framing (device side)", () => {
  it("delivers a newline-delimited frame without CRC and replies without CRC", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('{"id":1,"method":"RPC.Ping"}\n')), [{ kind: "frame", json: '{"id":1,"method":"RPC.Ping"}' }]);
    assert.equal(u.encode('{"id":1,"result":null}'), '\n{"id":1,"result":null}\n');
  });
  it("verifies the spec's CRC example 010a4ff9 and then replies with CRCs", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('{"method":"Sys.GetInfo"}010a4ff9\n')), [{ kind: "frame", json: '{"method":"Sys.GetInfo"}' }]);
    assert.equal(u.crcMode, true);
    assert.equal(u.encode('{"method":"Sys.GetInfo"}'), '\n{"method":"Sys.GetInfo"}010a4ff9\n');
  });
  it("ignores metadata fields after the CRC", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('{"method":"Sys.GetInfo"}010a4ff9,a,b\n')), [{ kind: "frame", json: '{"method":"Sys.GetInfo"}' }]);
  });
  it("drops a frame whose CRC is wrong, and stays out of CRC mode", () => {
    const u = new UartFraming();
    const [e] = receiveAll(u, bytes('{"method":"Sys.GetInfo"}010a4ff8\n'));
    assert.equal(e?.kind, "dropped");
    assert.equal(u.crcMode, false);
  });
  it("takes mos's \"\"\"-wrapped frame with CRC and answers in the same format (sticky compat)", () => {
    const u = new UartFraming();
    const events = receiveAll(u, bytes('\n"""{"src":"mos","id":1099511628211,"method":"RPC.Ping"}4fff1bd9"""\n'));
    // The newline and the """ each end an empty line, and each gets an empty frame, which mos skips.
    assert.deepEqual(events, [
      { kind: "reply", text: "\n" },
      { kind: "reply", text: "\n" },
      { kind: "frame", json: '{"src":"mos","id":1099511628211,"method":"RPC.Ping"}' },
      { kind: "reply", text: "\n" },
    ]);
    assert.equal(
      u.encode('{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"channel_info":"UART0"}}'),
      '\n"""{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"channel_info":"UART0"}}cc11a353"""\n',
    );
    // Compat mode is sticky: a later plain line still gets a wrapped reply.
    receiveAll(u, bytes('{"id":2,"method":"X"}\n'));
    assert.match(u.encode("{}"), /^\n"""\{\}[0-9a-f]{8}"""\n$/);
  });
  it("answers mos's handshake \"\"\"\\x04\"\"\"\\n\\n with \"\"\"\\x04\"\"\" and empty frames", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('"""\x04"""\n\n')), [
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
      for (const e of receiveAll(u, bytes('"""\x04"""\n\n\n"""{"id":' + i + ',"method":"RPC.Ping"}"""\n'))) if (e.kind === "frame") frames++;
    }
    assert.equal(frames, 3000);
  });
  it("replies to an empty line with an empty frame", () => {
    assert.deepEqual(receiveAll(new UartFraming(), bytes("  \r\n")), [{ kind: "reply", text: "\n" }]);
  });
  it("skips log text and junk before '{', and ignores lines with no frame", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('I (123) boot: junk {"id":1,"method":"X"}\nhello\n')), [{ kind: "frame", json: '{"id":1,"method":"X"}' }]);
  });
  it("reassembles a frame split across reads", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('{"id":1,"me')), []);
    assert.deepEqual(receiveAll(u, bytes('thod":"X"}\n')), [{ kind: "frame", json: '{"id":1,"method":"X"}' }]);
  });
  it("takes UTF-8 frames, with the CRC over their bytes as mos sums them", () => {
    const u = new UartFraming();
    const json = '{"id":1,"method":"RPC.Ping","params":{"s":"café ☕"}}';
    const utf8 = new TextEncoder().encode(json);
    const crc = crc32(utf8).toString(16).padStart(8, "0");
    const line = new Uint8Array([...utf8, ...bytes(crc + "\n")]);
    assert.deepEqual(receiveAll(u, line), [{ kind: "frame", json }]);
    assert.equal(u.crcMode, true);
  });
  it("drops a frame that is not UTF-8, and only that frame", () => {
    const u = new UartFraming();
    receiveAll(u, bytes('{"id":1,"method"'));
    const events = receiveAll(u, Uint8Array.of(0x3a, 0xff, 0x22, 0x7d, 0x0a));
    assert.deepEqual(events, [{ kind: "dropped", reason: "frame is not valid UTF-8 (line noise or a wrong baud rate?)" }]);
    assert.deepEqual(receiveAll(u, bytes('{"id":2,"method":"Y"}\n')), [{ kind: "frame", json: '{"id":2,"method":"Y"}' }]);
  });
  it("drops a line over the size limit up to its delimiter, once, and recovers", () => {
    const u = new UartFraming();
    const events = receiveAll(u, bytes('{"id":1,"method":"X","params":"' + "a".repeat(4200)));
    assert.deepEqual(events, [{ kind: "dropped", reason: "incoming frame is too big: more than 4096 bytes" }]);
    // The tail of the long line is not a frame of its own, even when it looks like one.
    assert.deepEqual(receiveAll(u, bytes('a", {"id":2,"method":"Injected"}')), []);
    assert.deepEqual(receiveAll(u, bytes('\n{"id":3,"method":"Z"}\n')), [{ kind: "frame", json: '{"id":3,"method":"Z"}' }]);
  });
  it("takes a megabyte with no newline in one fixed buffer", () => {
    const u = new UartFraming();
    let dropped = 0;
    for (let i = 0; i < 256; i++) dropped += receiveAll(u, new Uint8Array(4096).fill(0x41)).length;
    assert.equal(dropped, 1);
    assert.deepEqual(receiveAll(u, bytes('\n{"id":3,"method":"Z"}\n')), [{ kind: "frame", json: '{"id":3,"method":"Z"}' }]);
  });
  it("answers a flood of handshakes and empty lines one event each, in order", () => {
    const u = new UartFraming();
    const events = receiveAll(u, bytes('"""\x04"""'.repeat(500)));
    assert.equal(events.length, 1000);
    assert.deepEqual(events.slice(0, 2), [{ kind: "reply", text: "\n" }, { kind: "reply", text: '"""\x04"""' }]);
    assert.equal(receiveAll(u, bytes('"""'.repeat(1000))).length, 1000);
    assert.equal(receiveAll(u, bytes("\x04\n".repeat(1000))).length, 1000);
  });
  it("finds a \"\"\" delimiter split across reads", () => {
    const u = new UartFraming();
    assert.deepEqual(receiveAll(u, bytes('{"id":1,"method":"X"}""')), []);
    assert.deepEqual(receiveAll(u, bytes('"')), [{ kind: "frame", json: '{"id":1,"method":"X"}' }]);
  });
  it("keeps replies ASCII: non-ASCII characters become \\u escapes", () => {
    assert.equal(asciiJson('{"s":"héllo ✓"}'), '{"s":"h\\u00e9llo \\u2713"}');
    assert.deepEqual(JSON.parse(asciiJson('{"s":"héllo ✓"}')), { s: "héllo ✓" });
    // Outside the BMP: two escaped code units (surrogates), as JSON.stringify's readers expect.
    assert.equal(asciiJson('{"s":"😀"}'), '{"s":"\\ud83d\\ude00"}');
  });
});
