import assert from "node:assert/strict";
import { encodeRequest, encodeResponse, parseFrame, type Frame } from "rpc/frame";

function parse(text: string): Frame {
  const r = parseFrame(text);
  if (!r.ok) assert.fail(r.reason);
  return r.frame;
}

describe("frame codec", () => {
  it("echoes a mos id (in [2^40, 2^41)) byte-exact: the spec's success example", () => {
    const req = parse('{"src":"mos","id":1099511628211,"method":"OTA.CreateSnapshot","params":{}}');
    assert.equal(
      encodeResponse(req, "esp32_ABCDEF", { result: { slot: 1 } }),
      '{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"slot":1}}',
    );
  });
  it("echoes ids above 2^53 with the same digits", () => {
    const req = parse('{"id":123456789012345678901234567890,"method":"RPC.Ping"}');
    assert.equal(encodeResponse(req, "d", { result: null }), '{"id":123456789012345678901234567890,"src":"d","result":null}');
    const req2 = parse('{"id":9007199254740993,"method":"X"}');
    assert.match(encodeResponse(req2, "d", { result: 1 }), /^\{"id":9007199254740993,/);
  });
  it("echoes a string id as a string, even when it is all digits", () => {
    assert.match(encodeResponse(parse('{"id":"abc","method":"X"}'), "d", { result: 1 }), /^\{"id":"abc",/);
    assert.match(encodeResponse(parse('{"id":"123","method":"X"}'), "d", { result: 1 }), /^\{"id":"123",/);
  });
  it("takes args and params as synonyms", () => {
    assert.deepEqual(parse('{"id":1,"method":"X","args":{"a":1}}').args, { a: 1 });
    assert.deepEqual(parse('{"id":1,"method":"X","params":{"a":2}}').args, { a: 2 });
    assert.equal(parse('{"id":1,"method":"X"}').args, undefined);
  });
  it("echoes tag verbatim and swaps src/dst, in mgrpc's key order", () => {
    const req = parse('{"id":5,"src":"client-7","dst":"dev1","tag":{"k":[1, 2]},"method":"X"}');
    assert.equal(
      encodeResponse(req, "dev1", { error: { code: 404, message: "No handler for X" } }),
      '{"id":5,"src":"dev1","dst":"client-7","tag":{"k":[1, 2]},"error":{"code":404,"message":"No handler for X"}}',
    );
  });
  it("emits an error without message when none was given", () => {
    assert.equal(encodeResponse(parse('{"id":1,"method":"OTA.Commit"}'), "d", { error: { code: -1 } }), '{"id":1,"src":"d","error":{"code":-1}}');
  });
  it("turns an undefined result into null", () => {
    assert.equal(encodeResponse(parse('{"id":1,"method":"X"}'), "d", { result: undefined }), '{"id":1,"src":"d","result":null}');
  });
  it("marks a frame without id as a notification", () => {
    assert.equal(parse('{"method":"X"}').id, undefined);
  });
  it("parses responses with raw result text and error bodies", () => {
    const r = parse('{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"big":18446744073709551617}}');
    assert.equal(r.method, "");
    assert.equal(r.result, '{"big":18446744073709551617}');
    assert.deepEqual(parse('{"id":2,"error":{"code":-1}}').error, { code: -1 });
  });
  it("refuses malformed frames with a reason", () => {
    for (const [text, reason] of [
      ["{", "invalid JSON"],
      ["[1]", "frame is not a JSON object"],
      ['{"id":true,"method":"X"}', "id must be a number or a string"],
      ['{"id":{},"method":"X"}', "id must be a number or a string"],
      ['{"id":1,"method":5}', "method, src and dst must be strings"],
      ['{"id":1,"method":"X","src":[]}', "method, src and dst must be strings"],
      ['{"id":1,"error":{"code":"x"}}', "error must be {code: int, message?: string}"],
    ]) {
      assert.deepEqual(parseFrame(text!), { ok: false, reason }, text);
    }
  });
  it("encodes requests in mos's shape", () => {
    assert.equal(encodeRequest({ src: "mos", id: 1099511628211, method: "RPC.Ping" }), '{"src":"mos","id":1099511628211,"method":"RPC.Ping"}');
    assert.equal(
      encodeRequest({ src: "a/rpc-resp/mos-1", dst: "dev", id: 7, method: "X", params: { a: 1 } }),
      '{"src":"a/rpc-resp/mos-1","dst":"dev","id":7,"method":"X","params":{"a":1}}',
    );
    assert.equal(encodeRequest({ id: 1, method: "X", params: [], compatArgs: true }), '{"id":1,"method":"X","args":[]}');
  });
});
