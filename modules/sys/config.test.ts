import assert from "node:assert/strict";
import { ha1 } from "rpc/digest-auth";
import { Config } from "sys/config";
import { MAX_CONFIG_RECORD } from "sys/config-record";
import { CONFIG_SCHEMA, authSettings } from "sys/config-schema";
import { deviceIdFromMac } from "sys/identity";
import { MemoryRecords } from "../../test/memory-records.ts";

const MAC = "AABBCCDDEEFF";
const newConfig = (store = new MemoryRecords()) => {
  const config = new Config(CONFIG_SCHEMA, store, { "device.id": (t) => deviceIdFromMac(MAC, String(t)) });
  return { config, store, problems: config.load() };
};
const HA1 = ha1("MD5", "admin", "RPC", "secret");

describe("device configuration", () => {
  it("starts from the defaults, with device.id's question marks replaced by MAC digits", () => {
    const { config, problems } = newConfig();
    assert.deepEqual(problems, []);
    assert.deepEqual(config.get(), {
      device: { id: "esp32_DDEEFF" },
      rpc: { auth_domain: "RPC", auth_algo: 0, auth: { users: {} }, acl: "", uart: { enable: true } },
    });
    assert.equal(config.get("device.id"), "esp32_DDEEFF");
    assert.deepEqual(config.get("rpc.uart"), { enable: true });
    assert.equal(config.get("rpc.nope"), undefined);
    assert.deepEqual(config.getLevel(0, "device"), { id: "esp32_DDEEFF" });
  });

  it("merges a diff: values replace, objects merge, null restores a default or removes a user", () => {
    const { config } = newConfig();
    assert.ok(config.set({ rpc: { auth: { users: { admin: HA1, ops: HA1 } }, auth_domain: "lab" } }).ok);
    assert.ok(config.set({ rpc: { auth: { users: { ops: null } }, auth_domain: null } }).ok);
    assert.deepEqual(config.get("rpc.auth.users"), { admin: HA1 });
    assert.equal(config.get("rpc.auth_domain"), "RPC");
    assert.ok(config.set({ device: { id: "lab_????" } }).ok);
    assert.equal(config.get("device.id"), "lab_EEFF");
  });

  it("refuses invalid values whole, naming the key, and changes nothing", () => {
    const { config } = newConfig();
    const before = config.get();
    for (const [diff, message] of [
      [{ rpc: { auth_algo: 2 } }, "rpc.auth_algo must be 0 (MD5) or 1 (SHA-256)"],
      [{ rpc: { auth_algo: "1" } }, "rpc.auth_algo must be an integer"],
      [{ rpc: { uart: { enable: 1 } } }, "rpc.uart.enable must be a boolean"],
      [{ rpc: { acl: "[{}]" } }, 'rpc.acl is not a valid ACL: entry 0 needs "acl", a non-empty string'],
      [{ rpc: { nope: 1 } }, "unknown key rpc.nope"],
      [{ rpc: { auth: { users: { admin: "secret" } } } }, "rpc.auth.users.admin must be an HA1: 32 (MD5) or 64 (SHA-256) lower-case hex digits"],
      [{ rpc: { auth: { users: { "a:b": HA1 } } } }, "rpc.auth.users.a:b: key must not contain spaces, dots, colons, commas, quotes or backslashes"],
      [JSON.parse(`{"rpc":{"auth":{"users":{"__proto__":"${HA1}"}}}}`), "rpc.auth.users.__proto__: invalid key"],
      [{ rpc: { auth: { users: { admin: HA1 } }, auth_algo: 1 } }, "rpc: the HA1 of user admin is not a SHA-256 digest (rpc.auth_algo 1): set it again"],
      [{ device: { id: "a/b" } }, "device.id must not contain spaces, /, #, +, quotes or backslashes"],
      [{ device: "x" }, "device must be an object"],
      [[1], "config must be an object"],
    ] as const) {
      const r = config.set(diff);
      assert.equal(r.ok, false, JSON.stringify(diff));
      if (!r.ok) assert.equal(r.message, message);
    }
    assert.deepEqual(config.get(), before);
    // With new HA1s in the same change, the algorithm may change.
    assert.ok(config.set({ rpc: { auth_algo: 1, auth: { users: { admin: ha1("SHA-256", "admin", "RPC", "x") } } } }).ok);
  });

  it("saves only what differs from the defaults, in one ASCII record, and reads it at the next boot", () => {
    const { config, store } = newConfig();
    assert.ok(config.set({ rpc: { auth: { users: { admin: HA1 } }, auth_domain: "Läb" } }, { tryOnce: false }).ok);
    assert.equal(store.text("config"), `{"v":1,"config":{"rpc":{"auth_domain":"L\\u00e4b","auth":{"users":{"admin":"${HA1}"}}}}}`);
    const next = newConfig(store);
    assert.deepEqual(next.problems, []);
    assert.equal(next.config.get("rpc.auth_domain"), "Läb");
    assert.deepEqual(authSettings(next.config), { realm: "Läb", authAlgo: 0, users: { admin: HA1 }, acl: "" });
  });

  it("keeps unsaved changes out of level 9 and out of the next boot", () => {
    const { config, store } = newConfig();
    config.set({ rpc: { auth_domain: "saved" } }, { tryOnce: false });
    config.set({ rpc: { auth_domain: "running" } });
    assert.equal(config.get("rpc.auth_domain"), "running");
    assert.equal(config.getLevel(9, "rpc.auth_domain"), "saved");
    assert.equal(config.getLevel(0, "rpc.auth_domain"), "RPC");
    assert.equal(newConfig(store).config.get("rpc.auth_domain"), "saved");
  });

  it("uses a try-once configuration for one boot only", () => {
    const { config, store } = newConfig();
    config.set({ rpc: { auth_domain: "kept" } }, { tryOnce: false });
    config.set({ rpc: { auth_domain: "trial" } }, { tryOnce: true });
    const first = newConfig(store).config;
    assert.equal(first.get("rpc.auth_domain"), "trial");
    assert.equal(first.getLevel(9, "rpc.auth_domain"), "kept");
    assert.equal(newConfig(store).config.get("rpc.auth_domain"), "kept");
  });

  it("changes nothing when the save fails, and refuses a record too large for one NVS page", () => {
    const { config, store } = newConfig();
    store.failWrites = true;
    assert.throws(() => config.set({ rpc: { auth_domain: "x" } }, { tryOnce: false }), /NOT_ENOUGH_SPACE/);
    assert.equal(config.get("rpc.auth_domain"), "RPC");
    store.failWrites = false;
    const users: Record<string, string> = {};
    for (let i = 0; i < 100; i++) users[`user${i}`] = ha1("SHA-256", `user${i}`, "RPC", "pw");
    assert.throws(() => config.set({ rpc: { auth_algo: 1, auth: { users } } }, { tryOnce: false }), new RegExp(`at most ${MAX_CONFIG_RECORD}`));
    assert.equal(config.get("rpc.auth_algo"), 0);
    assert.equal(store.records.size, 0);
  });

  it("reads a record from another firmware key by key, keeping users even when the keys disagree", () => {
    const store = new MemoryRecords();
    const put = (text: string) => store.records.set("config", Uint8Array.from(Buffer.from(text, "latin1")));
    put(`{"v":1,"config":{"rpc":{"auth_algo":1,"auth":{"users":{"admin":"${HA1}"}},"old_key":5,"acl":"[bad"}}}`);
    const { config, problems } = newConfig(store);
    assert.deepEqual(config.get("rpc.auth.users"), { admin: HA1 }, "the board stays closed");
    assert.equal(config.get("rpc.auth_algo"), 1);
    assert.equal(config.get("rpc.acl"), "");
    assert.ok(problems.some((p) => /unknown key rpc.old_key/.test(p)), problems.join("; "));
    put("{not json");
    assert.deepEqual(newConfig(store).problems, ["the saved config record is not valid JSON"]);
    put('{"v":7}');
    assert.deepEqual(newConfig(store).problems, ["the saved config record has an unknown format"]);
  });
});
