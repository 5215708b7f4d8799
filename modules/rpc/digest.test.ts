import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { base64, md5Hex, sha1, sha256Hex } from "rpc/digest";

describe("digest", () => {
  it("MD5: the RFC 1321 test suite (appendix A.5)", () => {
    const suite: Array<[string, string]> = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
      ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
    ];
    for (const [text, hex] of suite) assert.equal(md5Hex(text), hex, JSON.stringify(text));
  });

  it("SHA-256: the FIPS 180-2 examples (one block, two blocks) and the empty string", () => {
    assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(
      sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("agrees with node:crypto at every length around the padding boundaries, and on UTF-8 text", () => {
    for (let n = 0; n <= 200; n++) {
      const text = "x".repeat(n);
      assert.equal(md5Hex(text), createHash("md5").update(text).digest("hex"), `md5 length ${n}`);
      assert.equal(sha256Hex(text), createHash("sha256").update(text).digest("hex"), `sha256 length ${n}`);
      assert.deepEqual(Buffer.from(sha1(text)), createHash("sha1").update(text).digest(), `sha1 length ${n}`);
    }
    for (const text of ["admin:RPC:pässwörd", "用户:RPC:密码", "emoji \u{1F511}:realm:pw"]) {
      assert.equal(md5Hex(text), createHash("md5").update(text, "utf8").digest("hex"));
      assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"));
    }
  });

  it("SHA-1: the FIPS 180 examples, and base64 as Node writes it at every padding", () => {
    assert.equal(Buffer.from(sha1("abc")).toString("hex"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(Buffer.from(sha1("")).toString("hex"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    // RFC 6455 §1.3's handshake example.
    assert.equal(base64(sha1("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    for (let n = 0; n <= 10; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 200) & 0xff);
      assert.equal(base64(bytes), Buffer.from(bytes).toString("base64"), `length ${n}`);
    }
  });
});
