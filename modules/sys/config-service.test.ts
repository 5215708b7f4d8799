import assert from "node:assert/strict";
import { ha1 } from "rpc/digest-auth";
import { Dispatcher, type ChannelInfo } from "rpc/dispatcher";
import { Config } from "sys/config";
import { CONFIG_SCHEMA } from "sys/config-schema";
import { CONFIG_REBOOT_DELAY_MS, HIDDEN, installConfigService } from "sys/config-service";
import { MemoryRecords } from "../../test/memory-records.ts";

const UART: ChannelInfo = { type: "UART", info: "UART0" };
const HA1 = ha1("MD5", "admin", "RPC", "secret");

function setup() {
  const store = new MemoryRecords();
  const config = new Config(CONFIG_SCHEMA, store);
  config.load();
  const reboots: number[] = [];
  const rpc = new Dispatcher(() => "esp32_ABCDEF");
  installConfigService(rpc, { config, rebootAfter: (ms) => reboots.push(ms) });
  const call = (method: string, params?: unknown) => {
    let reply = "";
    rpc.handleText(JSON.stringify({ id: 1, method, params }), UART, (r) => (reply = r));
    return JSON.parse(reply) as { result?: unknown; error?: { code: number; message?: string } };
  };
  return { config, store, reboots, call };
}

describe("Config.Get, Config.Set, Config.Save", () => {
  it("Config.Get: the whole tree, a subtree, a leaf; 404 for an unknown key; HA1s hidden", () => {
    const { call, config } = setup();
    config.set({ rpc: { auth: { users: { admin: HA1 } } } });
    const all = call("Config.Get").result as { rpc: { auth: { users: Record<string, string> } } };
    assert.deepEqual(all.rpc.auth.users, { admin: HIDDEN });
    assert.deepEqual(call("Config.Get", { key: "rpc.auth" }).result, { users: { admin: HIDDEN } });
    assert.equal(call("Config.Get", { key: "rpc.auth.users.admin" }).result, HIDDEN);
    assert.equal(call("Config.Get", { key: "rpc.auth_domain" }).result, "RPC");
    assert.deepEqual(call("Config.Get", { key: "rpc.uart" }).result, { enable: true });
    assert.deepEqual(call("Config.Get", { key: "rpc.nope" }).error, { code: 404, message: "invalid config key" });
    assert.deepEqual(call("Config.Get", { key: "rpc.auth.users.root" }).error, { code: 404, message: "invalid config key" });
    assert.doesNotMatch(JSON.stringify(call("Config.Get").result), new RegExp(HA1));
  });

  it("Config.Get by level: 0 the defaults, 9 the saved config; others refused", () => {
    const { call } = setup();
    call("Config.Set", { config: { rpc: { auth_domain: "saved" } }, save: true });
    call("Config.Set", { config: { rpc: { auth_domain: "running" } } });
    assert.equal(call("Config.Get", { key: "rpc.auth_domain" }).result, "running");
    assert.equal(call("Config.Get", { key: "rpc.auth_domain", level: 9 }).result, "saved");
    assert.equal(call("Config.Get", { key: "rpc.auth_domain", level: 0 }).result, "RPC");
    assert.deepEqual(call("Config.Get", { level: 10 }).error, { code: 400, message: "failed to load config" });
    assert.deepEqual(call("Config.Get", { level: -1 }).error, { code: 400, message: "failed to load config" });
  });

  it("Config.Set as mos >= 2.12 sends it: {config, save, reboot} saves, replies saved, reboots after 500 ms", () => {
    const { call, store, reboots, config } = setup();
    assert.deepEqual(call("Config.Set", { config: { rpc: { auth: { users: { admin: HA1 } } } }, save: true, reboot: true }).result, { saved: true });
    assert.deepEqual(reboots, [CONFIG_REBOOT_DELAY_MS]);
    assert.match(store.text("config")!, new RegExp(HA1));
    assert.deepEqual(config.get("rpc.auth.users"), { admin: HA1 });
  });

  it("Config.Set with key and value; without save it applies but saves nothing, and does not reboot", () => {
    const { call, store, reboots, config } = setup();
    assert.deepEqual(call("Config.Set", { key: "rpc.acl", value: '[{"method":"*","acl":"*"}]', reboot: true }).result, { saved: false });
    assert.equal(config.get("rpc.acl"), '[{"method":"*","acl":"*"}]');
    assert.equal(store.records.size, 0);
    assert.deepEqual(reboots, []);
    assert.deepEqual(call("Config.Set", { key: "rpc.auth.users.ops", value: HA1 }).result, { saved: false });
    assert.deepEqual(call("Config.Set", { key: "rpc.auth.users.ops", value: null }).result, { saved: false });
    assert.deepEqual(config.get("rpc.auth.users"), {});
  });

  it("Config.Set refusals: value required, invalid key, level 0, invalid value; nothing changes", () => {
    const { call, config } = setup();
    const before = config.get();
    assert.deepEqual(call("Config.Set", { key: "rpc.auth_domain" }).error, { code: 400, message: "value is required" });
    assert.deepEqual(call("Config.Set", { key: "rpc.nope", value: 1 }).error, { code: 404, message: "invalid config key" });
    assert.deepEqual(call("Config.Set", { config: { rpc: {} }, level: 0 }).error, { code: 400, message: "not allowed" });
    assert.deepEqual(call("Config.Set", {}).error, { code: 400, message: "config is required" });
    assert.deepEqual(call("Config.Set", { config: { rpc: { auth_algo: 3 } }, save: true }).error, {
      code: 400,
      message: "invalid config value: rpc.auth_algo must be 0 (MD5) or 1 (SHA-256)",
    });
    assert.deepEqual(call("Config.Set", { config: { wifi: { ssid: "x" } } }).error, { code: 400, message: "invalid config value: unknown key wifi" });
    assert.deepEqual(call("Config.Set", { config: {}, save: "yes" }).error, { code: 400, message: "save must be a boolean" });
    assert.deepEqual(config.get(), before);
  });

  it("a failed write is -1 error saving config, and the running config stays as it was", () => {
    const { call, store, config } = setup();
    store.failWrites = true;
    assert.deepEqual(call("Config.Set", { config: { rpc: { auth_domain: "x" } }, save: true, reboot: true }).error, {
      code: -1,
      message: "error saving config: nvs_set_blob: ESP_ERR_NVS_NOT_ENOUGH_SPACE (0x1105)",
    });
    assert.equal(config.get("rpc.auth_domain"), "RPC");
    assert.equal(call("Config.Save").error?.code, -1);
  });

  it("Config.Save writes the running config, try_once to the one-boot record, and reboots when asked", () => {
    const { call, store, reboots } = setup();
    call("Config.Set", { config: { rpc: { auth_domain: "lab" } } });
    assert.deepEqual(call("Config.Save", { try_once: true }).result, { saved: true });
    assert.match(store.text("config.try")!, /"lab"/);
    assert.equal(store.text("config"), undefined);
    assert.deepEqual(reboots, []);
    assert.deepEqual(call("Config.Save", { reboot: true }).result, { saved: true });
    assert.match(store.text("config")!, /"lab"/);
    assert.deepEqual(reboots, [CONFIG_REBOOT_DELAY_MS]);
  });
});
