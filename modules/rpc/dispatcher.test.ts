import assert from "node:assert/strict";
import { Dispatcher, RpcError, argumentNames, type ChannelInfo } from "rpc/dispatcher";
import { installRpcService } from "sys/rpc-service";

const UART: ChannelInfo = { type: "UART", info: "UART0" };

function setup() {
  const rpc = new Dispatcher(() => "esp32_ABCDEF");
  installRpcService(rpc);
  const drops: string[] = [];
  rpc.onDrop = (reason) => drops.push(reason);
  const call = (text: string, channel = UART) => {
    const replies: string[] = [];
    const disposition = rpc.handleText(text, channel, (r) => replies.push(r));
    return { disposition, replies };
  };
  return { rpc, call, drops };
}

/** Replies of deferred handlers arrive after the promise settles. */
const settle = () => new Promise((r) => setImmediate(r));

describe("dispatcher", () => {
  it("answers RPC.Ping with the channel info", () => {
    const { call } = setup();
    assert.deepEqual(call('{"src":"mos","id":1099511628211,"method":"RPC.Ping"}').replies, [
      '{"id":1099511628211,"src":"esp32_ABCDEF","dst":"mos","result":{"channel_info":"UART0"}}',
    ]);
  });
  it("lists registered methods, including its own", () => {
    const { rpc, call } = setup();
    rpc.add("OTA.Commit", "", () => null);
    const reply = JSON.parse(call('{"id":1,"method":"RPC.List"}').replies[0]!);
    assert.deepEqual(reply.result.sort(), ["OTA.Commit", "RPC.Describe", "RPC.List", "RPC.Ping"]);
  });
  it("describes a method with its args_fmt, and refuses a missing or unknown name", () => {
    const { rpc, call } = setup();
    rpc.add("OTA.Update", "{url: %T, commit_timeout: %d}", () => null);
    assert.deepEqual(JSON.parse(call('{"id":1,"method":"RPC.Describe","args":{"name":"OTA.Update"}}').replies[0]!).result, {
      name: "OTA.Update",
      args_fmt: "{url: %T, commit_timeout: %d}",
    });
    assert.deepEqual(JSON.parse(call('{"id":2,"method":"RPC.Describe"}').replies[0]!).error, { code: 400, message: "name is required" });
    assert.deepEqual(JSON.parse(call('{"id":3,"method":"RPC.Describe","params":{"name":"X.Y"}}').replies[0]!).error, {
      code: 404,
      message: "name not found",
    });
  });
  it("answers an unknown method with 404 No handler for X", () => {
    const { call } = setup();
    assert.deepEqual(call('{"id":1,"method":"Foo.Bar"}').replies, ['{"id":1,"src":"esp32_ABCDEF","error":{"code":404,"message":"No handler for Foo.Bar"}}']);
  });
  it("runs a notification (no id) without replying", () => {
    const { rpc, call } = setup();
    let ran = 0;
    rpc.add("X", "", () => ran++);
    const r = call('{"method":"X"}');
    assert.equal(ran, 1);
    assert.equal(r.disposition, "no-reply");
    assert.deepEqual(r.replies, []);
  });
  it("accepts its own id or no dst, and drops a foreign dst", () => {
    const { call, drops } = setup();
    assert.equal(call('{"id":1,"dst":"esp32_ABCDEF","method":"RPC.Ping"}').replies.length, 1);
    const r = call('{"id":1,"dst":"esp32_000000","method":"RPC.Ping"}');
    assert.equal(r.disposition, "dropped");
    assert.deepEqual(r.replies, []);
    assert.deepEqual(drops, ['wrong dst "esp32_000000"']);
  });
  it("drops frames that do not parse, and stray responses", () => {
    const { call, drops } = setup();
    assert.equal(call("{nope").disposition, "dropped");
    assert.equal(call('{"id":5,"result":1}').disposition, "dropped");
    assert.deepEqual(drops, ["invalid JSON", "unexpected response frame"]);
  });
  it("turns RpcError into its code and any other exception into 500, never a crash", () => {
    const { rpc, call } = setup();
    rpc.add("A", "", () => {
      throw new RpcError(-1);
    });
    rpc.add("B", "", () => {
      throw new TypeError("x is not a function");
    });
    rpc.add("C", "", () => {
      throw "plain string";
    });
    assert.equal(call('{"id":1,"method":"A"}').replies[0], '{"id":1,"src":"esp32_ABCDEF","error":{"code":-1}}');
    assert.deepEqual(JSON.parse(call('{"id":2,"method":"B"}').replies[0]!).error, { code: 500, message: "x is not a function" });
    assert.deepEqual(JSON.parse(call('{"id":3,"method":"C"}').replies[0]!).error, { code: 500, message: "plain string" });
  });
  it("sends a deferred reply when the handler's promise settles", async () => {
    const { rpc, call } = setup();
    let finish!: (v: unknown) => void;
    rpc.add("Slow", "", () => new Promise((resolve) => (finish = resolve)));
    rpc.add("Fails", "", async () => {
      throw new RpcError(-3, "Update aborted");
    });
    const slow = call('{"id":"s","method":"Slow"}');
    const fails = call('{"id":"f","method":"Fails"}');
    assert.equal(slow.disposition, "reply");
    assert.deepEqual(slow.replies, []);
    finish({ done: true });
    await settle();
    assert.deepEqual(slow.replies, ['{"id":"s","src":"esp32_ABCDEF","result":{"done":true}}']);
    assert.deepEqual(fails.replies, ['{"id":"f","src":"esp32_ABCDEF","error":{"code":-3,"message":"Update aborted"}}']);
  });
  it("lets a prehandler refuse a call before the handler runs", () => {
    const { rpc, call } = setup();
    let ran = false;
    rpc.add("Sys.Reboot", "", () => (ran = true));
    rpc.addPrehandler((ctx) => (ctx.frame.method === "Sys.Reboot" ? { code: 418, message: "shutting down in 50 ms" } : undefined));
    assert.deepEqual(JSON.parse(call('{"id":1,"method":"Sys.Reboot"}').replies[0]!).error, { code: 418, message: "shutting down in 50 ms" });
    assert.equal(ran, false);
    assert.equal(call('{"id":2,"method":"RPC.Ping"}').replies.length, 1);
  });
});

describe("argumentNames", () => {
  it("reads the names of an args_fmt", () => {
    assert.deepEqual(argumentNames("{url: %T, commit_timeout: %d}"), ["url", "commit_timeout"]);
    assert.deepEqual(argumentNames(""), []);
  });
});
