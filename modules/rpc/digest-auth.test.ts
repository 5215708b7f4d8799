import assert from "node:assert/strict";
import {
  answerFrameChallenge,
  authorizationHeader,
  digestResponse,
  frameChallengeMessage,
  ha1,
  parseDigestHeader,
  parseFrameChallenge,
  timingSafeEqual,
  wwwAuthenticate,
} from "rpc/digest-auth";
import { md5Hex } from "rpc/digest";

describe("digest auth", () => {
  it("computes the RFC 2617 §3.5 example response (MD5)", () => {
    const response = digestResponse({
      algorithm: "MD5",
      ha1: ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life"),
      nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      nc: "00000001",
      cnonce: "0a4f113b",
      qop: "auth",
      method: "GET",
      uri: "/dir/index.html",
    });
    assert.equal(response, "6629fae49393a05397450978507c4ef1");
  });

  it("computes the RFC 7616 §3.9.1 examples (SHA-256 and MD5)", () => {
    const common = {
      nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
      nc: "00000001",
      cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
      qop: "auth",
      method: "GET",
      uri: "/dir/index.html",
    };
    assert.equal(
      digestResponse({ ...common, algorithm: "SHA-256", ha1: ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life") }),
      "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    );
    assert.equal(
      digestResponse({ ...common, algorithm: "MD5", ha1: ha1("MD5", "Mufasa", "http-auth@example.org", "Circle of Life") }),
      "8ca523f5e9506fed4657c9700eebdbec",
    );
  });

  it("answers a frame challenge exactly as mos's mkMd5Resp does", () => {
    const challenge = parseFrameChallenge('{"auth_type":"digest","nonce":1700000000,"nc":1,"realm":"RPC","algorithm":"MD5"}')!;
    const auth = answerFrameChallenge(challenge, "admin", "secret", 123456);
    const h1 = md5Hex("admin:RPC:secret");
    const h2 = md5Hex("dummy_method:dummy_uri");
    assert.deepEqual(auth, {
      realm: "RPC",
      username: "admin",
      nonce: 1700000000,
      cnonce: 123456,
      algorithm: "MD5",
      response: md5Hex(`${h1}:1700000000:1:123456:auth:${h2}`),
    });
  });

  it("writes the 401 challenge message in Mongoose's key order, and reads old mos challenges without algorithm", () => {
    assert.equal(frameChallengeMessage("RPC", 1700000000, "SHA-256"), '{"auth_type":"digest","nonce":1700000000,"nc":1,"realm":"RPC","algorithm":"SHA-256"}');
    assert.equal(parseFrameChallenge('{"auth_type":"digest","nonce":5,"nc":1,"realm":"R"}')?.algorithm, "MD5");
    assert.equal(parseFrameChallenge("shutting down in 3 ms"), undefined);
    assert.equal(parseFrameChallenge('{"auth_type":"basic","nonce":5,"realm":"R"}'), undefined);
    assert.equal(parseFrameChallenge('{"auth_type":"digest","nonce":5,"realm":"R","algorithm":"SHA-1"}'), undefined);
  });

  it("writes WWW-Authenticate as Mongoose does (hex nonce) and parses both header kinds", () => {
    const www = wwwAuthenticate("RPC", 0x6553f100, "MD5");
    assert.equal(www, 'Digest qop="auth", realm="RPC", nonce="6553f100", algorithm=MD5');
    assert.deepEqual(parseDigestHeader(www), { qop: "auth", realm: "RPC", nonce: "6553f100", algorithm: "MD5" });
    assert.deepEqual(parseDigestHeader('digest username="a\\"b", nc=00000001,cnonce="9"'), { username: 'a"b', nc: "00000001", cnonce: "9" });
    assert.equal(parseDigestHeader('Basic dXNlcjpwYXNz'), undefined);
  });

  it("builds the Authorization header mos sends, which verifies with the request's method and path", () => {
    const header = authorizationHeader({ realm: "RPC", nonce: "6553f100", qop: "auth", algorithm: "SHA-256" }, { method: "POST", uri: "/rpc" }, "admin", "pw", 42);
    const p = parseDigestHeader(header)!;
    assert.deepEqual(
      { ...p, response: undefined },
      { username: "admin", realm: "RPC", uri: "/rpc", algorithm: "SHA-256", nonce: "6553f100", nc: "00000001", cnonce: "42", qop: "auth", response: undefined },
    );
    assert.match(header, /^Digest username="admin", realm="RPC", uri="\/rpc", algorithm=SHA-256, nonce="6553f100", nc=00000001, cnonce="42", qop=auth, response="[0-9a-f]{64}"$/);
    const expected = digestResponse({
      algorithm: "SHA-256",
      ha1: ha1("SHA-256", "admin", "RPC", "pw"),
      nonce: "6553f100",
      nc: "00000001",
      cnonce: "42",
      qop: "auth",
      method: "POST",
      uri: "/rpc",
    });
    assert.equal(p.response, expected);
  });

  it("compares secrets over their whole length: no prefix, no empty string", () => {
    const secret = "0123456789abcdef0123456789abcdef";
    assert.equal(timingSafeEqual(secret, secret), true);
    assert.equal(timingSafeEqual(secret, secret.slice(0, 31)), false);
    assert.equal(timingSafeEqual(secret, ""), false);
    assert.equal(timingSafeEqual("", ""), false);
    assert.equal(timingSafeEqual(secret, secret.slice(0, 31) + "0"), false);
    assert.equal(timingSafeEqual(secret + "0", secret), false);
  });
});
