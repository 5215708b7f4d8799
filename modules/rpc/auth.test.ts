import assert from "node:assert/strict";
import { installAuth, type AuthSettings } from "rpc/auth";
import { answerFrameChallenge, authorizationHeader, ha1, parseFrameChallenge, type FrameAuth } from "rpc/digest-auth";
import { Dispatcher, type ChannelInfo } from "rpc/dispatcher";

const BOOT = 1_700_000_000;
const UART: ChannelInfo = { type: "UART", info: "UART0" };
const MQTT: ChannelInfo = { type: "MQTT", info: "broker" };

function bench(initial: Partial<AuthSettings> = {}) {
  const clock = { now: BOOT };
  const settings: { value: AuthSettings } = {
    value: { realm: "RPC", authAlgo: 0, users: { admin: ha1("MD5", "admin", "RPC", "secret") }, acl: "", ...initial },
  };
  const rpc = new Dispatcher(() => "esp32_ABCDEF");
  for (const m of ["OTA.Commit", "Sys.Reboot", "Config.Set", "Sys.GetInfo", "Config.Get"]) rpc.add(m, "", () => m);
  installAuth(rpc, { settings: () => settings.value, nowSeconds: () => clock.now });
  const call = (method: string, channel: ChannelInfo, auth?: unknown) => {
    const replies: string[] = [];
    const frame = JSON.stringify({ id: 7, src: "t", method, ...(auth === undefined ? {} : { auth }) });
    rpc.handleText(frame, channel, (r) => replies.push(r));
    assert.equal(replies.length, 1);
    return JSON.parse(replies[0]!) as { result?: unknown; error?: { code: number; message?: string } };
  };
  /** Call without credentials, then answer the 401 as mos does. */
  const login = (method: string, channel: ChannelInfo, user = "admin", password = "secret", cnonce = 99): FrameAuth => {
    const first = call(method, channel);
    assert.equal(first.error?.code, 401, JSON.stringify(first));
    const challenge = parseFrameChallenge(first.error!.message!)!;
    return answerFrameChallenge(challenge, user, password, cnonce);
  };
  return { rpc, clock, settings, call, login };
}

function http(headers: Record<string, string> = {}, uri = "/rpc"): ChannelInfo {
  return { type: "HTTP", info: "127.0.0.1:1", headers, request: { method: "POST", uri } };
}

describe("RPC auth prehandler", () => {
  it("leaves a board without users open, as Mongoose OS is by default", () => {
    const { call } = bench({ users: {} });
    for (const ch of [UART, http(), MQTT]) assert.equal(call("OTA.Commit", ch).result, "OTA.Commit");
  });

  it("with users and no ACL: the UART is open, protected methods need a user elsewhere, others stay open", () => {
    const { call } = bench();
    assert.equal(call("OTA.Commit", UART).result, "OTA.Commit");
    for (const ch of [http(), MQTT, { type: "WS_in", info: "ws" }]) {
      for (const m of ["OTA.Commit", "Sys.Reboot", "Config.Set"]) {
        const r = call(m, ch);
        assert.equal(r.error?.code, 401, `${m} on ${ch.type}`);
        assert.deepEqual(JSON.parse(r.error!.message!), { auth_type: "digest", nonce: BOOT, nc: 1, realm: "RPC", algorithm: "MD5" });
      }
      assert.equal(call("Sys.GetInfo", ch).result, "Sys.GetInfo");
    }
  });

  it("accepts the frame auth mos computes from the challenge, MD5 and SHA-256", () => {
    const md5 = bench();
    assert.equal(md5.call("OTA.Commit", MQTT, md5.login("OTA.Commit", MQTT)).result, "OTA.Commit");
    const sha = bench({ authAlgo: 1, users: { admin: ha1("SHA-256", "admin", "RPC", "secret") } });
    const auth = sha.login("Sys.Reboot", MQTT);
    assert.equal(auth.algorithm, "SHA-256");
    assert.equal(sha.call("Sys.Reboot", MQTT, auth).result, "Sys.Reboot");
  });

  it("refuses a wrong password, an unknown user, a prefix or an empty response with a new 401", () => {
    const { call, login } = bench();
    const wrong = login("OTA.Commit", MQTT, "admin", "Secret");
    assert.equal(call("OTA.Commit", MQTT, wrong).error?.code, 401);
    assert.equal(call("OTA.Commit", MQTT, login("OTA.Commit", MQTT, "root", "secret")).error?.code, 401);
    const good = login("OTA.Commit", MQTT, "admin", "secret", 1);
    assert.equal(call("OTA.Commit", MQTT, { ...good, response: good.response.slice(0, 16) }).error?.code, 401);
    assert.equal(call("OTA.Commit", MQTT, { ...good, response: "" }).error?.code, 401);
    assert.equal(call("OTA.Commit", MQTT, { ...good, response: good.response.toUpperCase() }).result, "OTA.Commit");
  });

  it("answers incomplete or mismatched auth objects with 400 bad request", () => {
    const { call, login } = bench();
    const good = login("OTA.Commit", MQTT);
    for (const key of ["realm", "username", "nonce", "cnonce", "response"] as const) {
      const partial: Record<string, unknown> = { ...good };
      delete partial[key];
      assert.deepEqual(call("OTA.Commit", MQTT, partial).error, { code: 400, message: "bad request" }, `without ${key}`);
    }
    assert.deepEqual(call("OTA.Commit", MQTT, { ...good, realm: "other" }).error, { code: 400, message: "bad request" });
    assert.deepEqual(call("OTA.Commit", MQTT, { ...good, algorithm: "SHA-256" }).error, { code: 400, message: "bad request" });
    assert.deepEqual(call("OTA.Commit", MQTT, { ...good, nonce: "12ab" }).error, { code: 400, message: "bad request" });
    assert.deepEqual(call("OTA.Commit", MQTT, "admin:secret").error, { code: 400, message: "bad request" });
  });

  it("refuses a nonce an hour old, from the future or from before this boot; a fresh challenge then works", () => {
    const { call, login, clock } = bench();
    const auth = login("OTA.Commit", MQTT);
    clock.now += 3600;
    const stale = call("OTA.Commit", MQTT, auth);
    assert.equal(stale.error?.code, 401);
    assert.equal(JSON.parse(stale.error!.message!).nonce, BOOT + 3600);
    const future = login("OTA.Commit", MQTT, "admin", "secret", 5);
    assert.equal(call("OTA.Commit", MQTT, { ...future, nonce: clock.now + 1 }).error?.code, 401);
    const before = answerFrameChallenge({ auth_type: "digest", nonce: BOOT - 1, nc: 1, realm: "RPC", algorithm: "MD5" }, "admin", "secret", 6);
    assert.equal(call("OTA.Commit", MQTT, before).error?.code, 401);
    assert.equal(call("OTA.Commit", MQTT, login("OTA.Commit", MQTT)).result, "OTA.Commit");
  });

  it("accepts an auth object once: a replay within the hour is refused", () => {
    const { call, login, clock } = bench();
    const auth = login("OTA.Commit", MQTT);
    assert.equal(call("OTA.Commit", MQTT, auth).result, "OTA.Commit");
    clock.now += 60;
    assert.equal(call("OTA.Commit", MQTT, auth).error?.code, 401);
    assert.equal(call("Sys.Reboot", UART, auth).result, "Sys.Reboot", "the UART needs no auth and ignores it");
  });

  it("authenticates HTTP calls by their Authorization header, over the request's method and uri", () => {
    const { call, clock } = bench();
    const challenge = { realm: "RPC", nonce: clock.now.toString(16), qop: "auth", algorithm: "MD5" };
    const header = authorizationHeader(challenge, { method: "POST", uri: "/rpc" }, "admin", "secret", 1);
    assert.equal(call("OTA.Commit", http({ authorization: header })).result, "OTA.Commit");
    assert.equal(call("OTA.Commit", http({ authorization: header })).error?.code, 401, "replayed header");
    const other = authorizationHeader(challenge, { method: "POST", uri: "/rpc" }, "admin", "secret", 2);
    assert.equal(call("OTA.Commit", http({ authorization: other }, "/rpc/OTA.Commit")).error?.code, 401, "digest for another uri");
    const wrong = authorizationHeader(challenge, { method: "POST", uri: "/rpc" }, "admin", "nope", 3);
    assert.equal(call("OTA.Commit", http({ authorization: wrong })).error?.code, 401);
    assert.equal(call("OTA.Commit", http({ authorization: "Digest username=admin" })).error?.code, 401, "partial header: 401, as Mongoose");
    const stale = authorizationHeader({ ...challenge, nonce: (clock.now - 3600).toString(16) }, { method: "POST", uri: "/rpc" }, "admin", "secret", 4);
    assert.equal(call("OTA.Commit", http({ authorization: stale })).error?.code, 401);
    // A channel with the upgrade's headers only (no request line): a GET of the uri the header names.
    const ws = authorizationHeader(challenge, { method: "GET", uri: "/rpc" }, "admin", "secret", 5);
    assert.equal(call("OTA.Commit", { type: "WS_in", info: "ws", headers: { authorization: ws } }).result, "OTA.Commit");
  });

  it("follows an explicit ACL: user lists, deny entries, no match, and frame auth on the UART", () => {
    const users = { admin: ha1("MD5", "admin", "RPC", "secret"), guest: ha1("MD5", "guest", "RPC", "guest") };
    const { call, login } = bench({
      users,
      acl: JSON.stringify([
        { method: "Sys.GetInfo", acl: "*" },
        { method: "OTA.*,Sys.Reboot", ch_type: "UART", acl: "+admin" },
        { method: "Config.*", acl: "-guest,+*" },
        { ch_type: "MQTT", acl: "-*" },
      ]),
    });
    assert.equal(call("Sys.GetInfo", MQTT).result, "Sys.GetInfo");
    assert.equal(call("OTA.Commit", UART).error?.code, 401, "the ACL closes the UART too");
    assert.equal(call("OTA.Commit", UART, login("OTA.Commit", UART)).result, "OTA.Commit");
    assert.deepEqual(call("OTA.Commit", UART, login("OTA.Commit", UART, "guest", "guest")).error, { code: 403, message: "unauthorized" });
    assert.equal(call("Config.Set", UART, login("Config.Set", UART, "admin", "secret", 7)).result, "Config.Set");
    assert.deepEqual(call("Config.Set", UART, login("Config.Set", UART, "guest", "guest", 8)).error, { code: 403, message: "unauthorized" });
    assert.deepEqual(call("OTA.Commit", http()).error, { code: 403, message: "unauthorized" }, "no entry matches: denied");
    assert.deepEqual(call("Sys.Reboot", MQTT).error, { code: 403, message: "unauthorized" });
  });

  it("applies a settings change to the next call, and refuses every call when rpc.acl is malformed", () => {
    const b = bench({ users: {} });
    assert.equal(b.call("OTA.Commit", MQTT).result, "OTA.Commit");
    b.settings.value = { ...b.settings.value, users: { admin: ha1("MD5", "admin", "RPC", "secret") } };
    assert.equal(b.call("OTA.Commit", MQTT).error?.code, 401);
    b.settings.value = { ...b.settings.value, acl: "[{" };
    assert.deepEqual(b.call("Sys.GetInfo", UART).error, { code: 500, message: "invalid rpc.acl" });
  });

  it("runs after a refusal of an earlier prehandler (the reboot lockout)", () => {
    const rpc = new Dispatcher(() => "d");
    rpc.add("OTA.Commit", "", () => null);
    rpc.addPrehandler(() => ({ code: 418, message: "shutting down in 50 ms" }));
    installAuth(rpc, { settings: () => ({ realm: "RPC", authAlgo: 0, users: { a: "0".repeat(32) }, acl: "" }), nowSeconds: () => BOOT });
    const replies: string[] = [];
    rpc.handleText('{"id":1,"method":"OTA.Commit"}', MQTT, (r) => replies.push(r));
    assert.match(replies[0]!, /"code":418/);
  });
});
