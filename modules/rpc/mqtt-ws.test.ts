import assert from "node:assert/strict";
import { isTopicName, mqttIncoming, mqttReplyTopic, mqttSubscriptions } from "rpc/mqtt-topics";
import { isRpcUpgradePath, selectSubprotocol } from "rpc/ws-rules";

describe("MQTT topic mapping", () => {
  const id = "esp32_ABCDEF";
  it("subscribes to <id>/rpc and <id>/rpc/#", () => {
    assert.deepEqual(mqttSubscriptions(id), ["esp32_ABCDEF/rpc", "esp32_ABCDEF/rpc/#"]);
  });
  it("takes mos's frame on <id>/rpc and replies to <src>/rpc, src with slashes", () => {
    const r = mqttIncoming(`${id}/rpc`, `{"src":"${id}/rpc-resp/mos-1","dst":"${id}","id":1099511628211,"method":"RPC.List"}`, id);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.frame.method, "RPC.List");
    assert.equal(mqttReplyTopic(r.frame.src), `${id}/rpc-resp/mos-1/rpc`);
  });
  it("takes the method from <id>/rpc/<Method>", () => {
    const r = mqttIncoming(`${id}/rpc/OTA.GetBootState`, '{"id":5,"src":"foo"}', id);
    assert.ok(r.ok && r.frame.method === "OTA.GetBootState" && r.frame.src === "foo");
  });
  it("drops frames without src and payloads that are no frames", () => {
    assert.deepEqual(mqttIncoming(`${id}/rpc`, '{"id":1,"method":"RPC.List"}', id), { ok: false, reason: "frame without src" });
    assert.deepEqual(mqttIncoming(`${id}/rpc`, '{"hello":1}', id), { ok: false, reason: "not a frame: no id, src or method" });
    assert.deepEqual(mqttIncoming(`${id}/rpc`, "nope", id), { ok: false, reason: "invalid JSON" });
    assert.equal(mqttIncoming("other/rpc", '{"id":1,"src":"a","method":"X"}', id).ok, false);
  });
  it("sends no reply when there is no src", () => {
    assert.equal(mqttReplyTopic(""), undefined);
  });
});

describe("WebSocket rules", () => {
  it("upgrades on /rpc and /rpc/ only", () => {
    assert.ok(isRpcUpgradePath("/rpc") && isRpcUpgradePath("/rpc/"));
    assert.ok(!isRpcUpgradePath("/rpc/Sys.GetInfo") && !isRpcUpgradePath("/"));
  });
  it("echoes clubby.cesanta.com when offered, otherwise names no subprotocol", () => {
    assert.equal(selectSubprotocol("clubby.cesanta.com"), "clubby.cesanta.com");
    assert.equal(selectSubprotocol("foo, clubby.cesanta.com"), "clubby.cesanta.com");
    assert.equal(selectSubprotocol("foo"), undefined);
    assert.equal(selectSubprotocol(undefined), undefined);
  });
});

describe("isTopicName", () => {
  it("takes text with slashes, emoji and other characters; refuses wildcards, controls and noncharacters", () => {
    for (const ok of ["a/rpc-resp/mos-1", "é/😀", "\ufdcf\ufdf0\ufffd", "\ud83e\udfff"]) assert.equal(isTopicName(ok), true, ok);
    for (const bad of ["a/#", "a+", "\u0000", "\u0013", "\u0085", "\ufdd0", "\ufffe", "\uffff", "\ud83f\udffe", "x\udbff\udfff"]) assert.equal(isTopicName(bad), false, JSON.stringify(bad));
  });
});
