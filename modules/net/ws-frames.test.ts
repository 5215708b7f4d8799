import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { WsClose, WsFrameReader, WsOpcode, closeBody, encodeFrame, websocketAccept, type WsEvent } from "./ws-frames.ts";

const unmask = (data: Uint8Array, mask: Uint8Array) => {
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[i & 3]!;
};

/** A client frame: masked, as browsers and mos send them. */
function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, mask = [0x12, 0x34, 0x56, 0x78]): Uint8Array {
  const data = typeof payload === "string" ? new Uint8Array(Buffer.from(payload)) : payload;
  const n = data.length;
  const header = n < 126 ? [n] : n < 0x10000 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const masked = data.map((b, i) => b ^ mask[i & 3]!);
  return Uint8Array.from([(fin ? 0x80 : 0) | opcode, header[0]! | 0x80, ...header.slice(1), ...mask, ...masked]);
}

const text = (e: WsEvent | undefined) => {
  assert.equal(e?.kind, "message");
  return Buffer.from((e as Extract<WsEvent, { kind: "message" }>).data).toString();
};

describe("ESP32 WebSocket frames", () => {
  it("reads masked text and binary messages of every length encoding", () => {
    const reader = new WsFrameReader(100_000, unmask);
    for (const n of [0, 5, 125, 126, 300, 65535, 65536, 70000]) {
      const body = "x".repeat(n);
      reader.push(clientFrame(WsOpcode.TEXT, body));
      assert.equal(text(reader.next()), body);
    }
    reader.push(clientFrame(WsOpcode.BINARY, Uint8Array.of(1, 2, 3)));
    const e = reader.next();
    assert.deepEqual(e, { kind: "message", binary: true, data: Uint8Array.of(1, 2, 3) });
  });

  it("waits for a frame split across TCP segments, byte by byte", () => {
    const reader = new WsFrameReader(10_000, unmask);
    const frame = clientFrame(WsOpcode.TEXT, '{"id":1,"method":"OTA.Write","args":{"data":"' + "A".repeat(3000) + '"}}');
    for (const b of frame) {
      assert.equal(reader.next(), undefined);
      reader.push(Uint8Array.of(b));
    }
    assert.match(text(reader.next()), /^\{"id":1,"method":"OTA.Write"/);
  });

  it("joins fragmented messages, with control frames between the fragments", () => {
    const reader = new WsFrameReader(100, unmask);
    reader.push(clientFrame(WsOpcode.TEXT, "he", false));
    reader.push(clientFrame(WsOpcode.PING, "p"));
    reader.push(clientFrame(WsOpcode.CONTINUATION, "ll", false));
    reader.push(clientFrame(WsOpcode.CONTINUATION, "o", true));
    const ping = reader.next();
    assert.equal(ping?.kind, "ping");
    assert.equal(text(reader.next()), "hello");
    assert.equal(reader.next(), undefined);
  });

  it("reports a close with its code, then reads nothing more", () => {
    const reader = new WsFrameReader(100, unmask);
    reader.push(clientFrame(WsOpcode.CLOSE, closeBody(1001)));
    reader.push(clientFrame(WsOpcode.TEXT, "late"));
    assert.deepEqual(reader.next(), { kind: "close", code: 1001 });
    assert.deepEqual(reader.next(), { kind: "close", code: 1001 });
  });

  const broken: Array<[string, Uint8Array, number]> = [
    ["an unmasked frame", Uint8Array.of(0x81, 0x01, 0x41), WsClose.PROTOCOL_ERROR],
    ["reserved bits", (() => { const f = clientFrame(WsOpcode.TEXT, "a"); f[0]! |= 0x40; return f; })(), WsClose.PROTOCOL_ERROR],
    ["a fragmented ping", clientFrame(WsOpcode.PING, "a", false), WsClose.PROTOCOL_ERROR],
    ["a continuation without a message", clientFrame(WsOpcode.CONTINUATION, "a"), WsClose.PROTOCOL_ERROR],
    ["an unknown opcode", clientFrame(3, "a"), WsClose.PROTOCOL_ERROR],
    ["a message over the limit", clientFrame(WsOpcode.TEXT, "x".repeat(101)), WsClose.TOO_BIG],
    ["a 64-bit length beyond 2^32", Uint8Array.of(0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0), WsClose.TOO_BIG],
  ];
  for (const [what, frame, code] of broken) {
    it(`closes with ${code} on ${what}`, () => {
      const reader = new WsFrameReader(100, unmask);
      reader.push(frame);
      const e = reader.next();
      assert.equal(e?.kind, "error");
      assert.equal((e as Extract<WsEvent, { kind: "error" }>).code, code);
    });
  }

  it("drops a frame over the limit as it arrives and reads on: the peer's close after it is seen", () => {
    const stream = Buffer.concat([clientFrame(WsOpcode.TEXT, "x".repeat(5000)), clientFrame(WsOpcode.TEXT, "after"), clientFrame(WsOpcode.CLOSE, closeBody(1000))]);
    for (const step of [1, 7, 1460, stream.length]) {
      const reader = new WsFrameReader(100, unmask);
      const events: WsEvent[] = [];
      for (let at = 0; at < stream.length; at += step) {
        reader.push(stream.subarray(at, at + step));
        for (let e = reader.next(); e; e = reader.next()) {
          events.push(e);
          if (e.kind === "close") break;
        }
        if (events.some((e) => e.kind === "close")) break;
      }
      assert.deepEqual(
        events.map((e) => (e.kind === "message" ? Buffer.from(e.data).toString() : e.kind === "error" ? e.code : e.kind)),
        [WsClose.TOO_BIG, "after", "close"],
        `split every ${step}`,
      );
    }
  });

  it("refuses fragments that add up to more than the limit", () => {
    const reader = new WsFrameReader(100, unmask);
    reader.push(clientFrame(WsOpcode.TEXT, "x".repeat(60), false));
    reader.push(clientFrame(WsOpcode.CONTINUATION, "x".repeat(60)));
    assert.equal(reader.next()?.kind, "error");
  });

  it("encodes unmasked server frames with the shortest length form", () => {
    assert.deepEqual([...encodeFrame(WsOpcode.TEXT, new Uint8Array(Buffer.from("hi")))], [0x81, 2, 0x68, 0x69]);
    assert.deepEqual([...encodeFrame(WsOpcode.TEXT, new Uint8Array(300)).subarray(0, 4)], [0x81, 126, 1, 44]);
    assert.deepEqual([...encodeFrame(WsOpcode.BINARY, new Uint8Array(70000)).subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    assert.deepEqual([...encodeFrame(WsOpcode.CLOSE, closeBody(1000))], [0x88, 2, 0x03, 0xe8]);
  });

  it("computes Sec-WebSocket-Accept as RFC 6455 §1.3's example does", () => {
    const sha1Base64 = (s: string) => createHash("sha1").update(s).digest("base64");
    assert.equal(websocketAccept("dGhlIHNhbXBsZSBub25jZQ==", sha1Base64), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });
});
