import assert from "node:assert/strict";
import { DEFAULT_ACL, lookupAcl, parseAcl, userAllowed, type Acl } from "rpc/acl";
import { matchesGlob, matchesGlobList } from "rpc/glob";

function acl(text: string): Acl {
  const parsed = parseAcl(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
  return parsed.acl;
}

describe("glob lists", () => {
  it("match whole names with * and ?, alternatives split by , or |", () => {
    assert.equal(matchesGlob("OTA.*", "OTA.Update"), true);
    assert.equal(matchesGlob("OTA.*", "OTA."), true);
    assert.equal(matchesGlob("OTA.*", "XOTA.Update"), false);
    assert.equal(matchesGlob("OTA", "OTA.Update"), false, "a prefix is not a match");
    assert.equal(matchesGlob("Sys.?et*", "Sys.GetInfo"), true);
    assert.equal(matchesGlob("*.Set", "Config.Set"), true);
    assert.equal(matchesGlob("*.Set", "Config.Save"), false);
    assert.equal(matchesGlob("*", ""), true);
    assert.equal(matchesGlob("a*b*c", "a" + "b".repeat(5000)), false, "no exponential backtracking");
    assert.equal(matchesGlobList("Sys.Reboot, Config.*|OTA.Commit", "Config.Get"), true);
    assert.equal(matchesGlobList("Sys.Reboot,Config.*|OTA.Commit", "OTA.Commit"), true);
    assert.equal(matchesGlobList("Sys.Reboot,Config.*|OTA.Commit", "OTA.Revert"), false);
    assert.equal(matchesGlob("ota.*", "OTA.Update"), false, "method names are case-sensitive, as the dispatcher's");
  });
});

describe("ACL", () => {
  it("first matching entry wins; method and ch_type must both match; no match denies", () => {
    const a = acl(
      '[{"method":"OTA.*","ch_type":"UART","acl":"*"},{"method":"OTA.*","acl":"+admin"},{"ch_type":"MQTT","acl":"-*"},{"method":"*","acl":"*"}]',
    );
    assert.deepEqual(lookupAcl(a, "OTA.Update", "UART"), { kind: "allow" });
    assert.equal(lookupAcl(a, "OTA.Update", "HTTP")?.kind, "users");
    assert.deepEqual(lookupAcl(a, "Sys.GetInfo", "MQTT"), { kind: "deny" });
    assert.deepEqual(lookupAcl(a, "Sys.GetInfo", "HTTP"), { kind: "allow" });
    assert.equal(lookupAcl(acl('[{"method":"Sys.*","acl":"*"}]'), "OTA.Update", "HTTP"), undefined);
  });

  it("reads *, +* and -* as allow-all and deny-all, anything else as a user list", () => {
    const [a, b, c, d] = acl('[{"method":"a","acl":"*"},{"method":"b","acl":" +* "},{"method":"c","acl":"-*"},{"method":"d","acl":"+admin,-guest*,ops"}]');
    assert.deepEqual([a!.rule, b!.rule, c!.rule], [{ kind: "allow" }, { kind: "allow" }, { kind: "deny" }]);
    assert.deepEqual(d!.rule, {
      kind: "users",
      entries: [
        { allow: true, pattern: "admin" },
        { allow: false, pattern: "guest*" },
        { allow: true, pattern: "ops" },
      ],
    });
  });

  it("lets a user through when the first matching user glob allows it, and nobody unlisted", () => {
    const rule = acl('[{"method":"*","acl":"-guest*,+g*,admin"}]')[0]!.rule;
    assert.equal(userAllowed(rule, "admin"), true);
    assert.equal(userAllowed(rule, "gary"), true);
    assert.equal(userAllowed(rule, "guest1"), false);
    assert.equal(userAllowed(rule, "root"), false);
    assert.equal(userAllowed({ kind: "deny" }, "admin"), false);
  });

  it("refuses malformed ACLs with a reason", () => {
    for (const [text, reason] of [
      ["{", /JSON/],
      ['{"method":"*","acl":"*"}', /array/],
      ['["x"]', /entry 0 is not an object/],
      ['[{"method":"*"}]', /needs "acl"/],
      ['[{"method":"*","acl":""}]', /needs "acl"/],
      ['[{"acl":"*"}]', /needs "method" or "ch_type"/],
      ['[{"method":5,"acl":"*"}]', /"method" must be a string/],
      ['[{"ch_type":["HTTP"],"acl":"*"}]', /"ch_type" must be a string/],
    ] as const) {
      const parsed = parseAcl(text);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok) assert.match(parsed.reason, reason, text);
    }
  });

  it("the default policy: the UART open; OTA.*, Sys.Reboot, Config.Set/Save need a user elsewhere; the rest open", () => {
    for (const method of ["OTA.Update", "OTA.Commit", "Sys.Reboot", "Config.Set", "Config.Save", "Config.Get"]) {
      assert.deepEqual(lookupAcl(DEFAULT_ACL, method, "UART"), { kind: "allow" }, method);
    }
    for (const ch of ["HTTP", "WS_in", "MQTT", "WS_out"]) {
      for (const method of ["OTA.Update", "OTA.GetBootState", "Sys.Reboot", "Config.Set", "Config.Save"]) {
        const rule = lookupAcl(DEFAULT_ACL, method, ch)!;
        assert.equal(rule.kind, "users", `${method} on ${ch}`);
        assert.equal(userAllowed(rule, "anybody"), true);
      }
      for (const method of ["Sys.GetInfo", "RPC.List", "Config.Get"]) assert.deepEqual(lookupAcl(DEFAULT_ACL, method, ch), { kind: "allow" });
    }
  });
});
