import assert from "node:assert/strict";
import { frameChallengeMessage } from "rpc/digest-auth";
import { encodeResponse } from "rpc/frame";
import { challengeOfReply, requestTarget, unauthorizedResponse } from "rpc/http-mapping";

const request = { id: "7", src: "mos", dst: "", method: "OTA.Commit" };

describe("HTTP mapping of 401 challenges", () => {
  it("recognizes a reply refusing a call for want of credentials, and nothing else", () => {
    const challenge = encodeResponse(request, "esp32_ABCDEF", { error: { code: 401, message: frameChallengeMessage("RPC", 0x6553f100, "SHA-256") } });
    assert.deepEqual(challengeOfReply(challenge), { auth_type: "digest", nonce: 0x6553f100, nc: 1, realm: "RPC", algorithm: "SHA-256" });
    assert.equal(challengeOfReply(encodeResponse(request, "d", { error: { code: 401, message: "who are you?" } })), undefined);
    assert.equal(challengeOfReply(encodeResponse(request, "d", { error: { code: 403, message: "unauthorized" } })), undefined);
    assert.equal(challengeOfReply(encodeResponse(request, "d", { result: { note: '"error":{"code":401,' } })), undefined);
  });

  it("answers it as Mongoose's HTTP channel does: 401, WWW-Authenticate with a hex nonce, no body, connection closed", () => {
    assert.deepEqual(unauthorizedResponse({ auth_type: "digest", nonce: 0x6553f100, nc: 1, realm: "RPC", algorithm: "MD5" }), {
      status: 401,
      headers: [
        ["WWW-Authenticate", 'Digest qop="auth", realm="RPC", nonce="6553f100", algorithm=MD5'],
        ["Content-Length", "0"],
        ["Connection", "close"],
      ],
      body: "",
    });
  });

  it("names the request target a digest covers: path and query as sent", () => {
    assert.equal(requestTarget({ path: "/rpc/Config.Get", query: "key=%22rpc%22" }), "/rpc/Config.Get?key=%22rpc%22");
    assert.equal(requestTarget({ path: "/rpc", query: "" }), "/rpc");
  });
});
