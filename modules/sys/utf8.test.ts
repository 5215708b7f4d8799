import assert from "node:assert/strict";
import { asciiJson, decodeUtf8, decodeUtf8Strict, encodeUtf8, utf8Length } from "sys/utf8";

const utf8 = (text: string) => new TextEncoder().encode(text);

const MALFORMED = [
  [0x80], [0xc0, 0xaf], [0xe2, 0x82], [0xe2, 0x82, 0x41], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff, 0x41],
  [0xf0, 0x9f, 0x98], [0x41, 0xe2, 0x82, 0xac, 0x42, 0x80],
];

describe("decodeUtf8", () => {
  it("decodes ASCII, 2-, 3- and 4-byte sequences, across the internal 256-unit steps", () => {
    const text = "a".repeat(255) + "é✓😀" + "z".repeat(600) + "😀\ufffd";
    assert.equal(decodeUtf8(utf8(text)), text);
    assert.equal(decodeUtf8Strict(utf8(text)), text);
    assert.equal(decodeUtf8(new Uint8Array(0)), "");
  });
  it("turns malformed input into U+FFFD as TextDecoder does", () => {
    for (const bytes of MALFORMED) {
      const input = Uint8Array.from(bytes);
      assert.equal(decodeUtf8(input), new TextDecoder().decode(input), JSON.stringify(bytes));
    }
  });
  it("strict: refuses malformed input as TextDecoder's fatal mode does", () => {
    for (const bytes of MALFORMED) {
      const input = Uint8Array.from(bytes);
      assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(input));
      assert.equal(decodeUtf8Strict(input), undefined, JSON.stringify(bytes));
    }
  });
});

describe("encodeUtf8 and utf8Length", () => {
  it("encode as TextEncoder does, lone surrogates included, and count what they encode", () => {
    for (const text of ["", "aé€\u{10348}", "\ud800x", "x\udc00", "\udbff\udfff", "GET /" + "aé€\u{10348}\ud800".repeat(500)]) {
      const expected = Array.from(new TextEncoder().encode(text));
      assert.deepEqual(Array.from(encodeUtf8(text)), expected, JSON.stringify(text));
      assert.equal(utf8Length(text), expected.length, JSON.stringify(text));
    }
  });
});

describe("asciiJson", () => {
  it("escapes every character beyond ASCII, a surrogate pair for one past the BMP, and leaves the value as it was", () => {
    const value = { s: "café ☕ 𝄞 e\u0301", "ключ": ["\u007f", "\u0080"] };
    const ascii = asciiJson(JSON.stringify(value));
    assert.match(ascii, /^[\x00-\x7f]*$/);
    assert.ok(ascii.includes("\\ud834\\udd1e"), ascii);
    assert.deepEqual(JSON.parse(ascii), value);
    assert.equal(asciiJson('{"a":1}'), '{"a":1}');
  });
});
