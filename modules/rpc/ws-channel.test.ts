import assert from "node:assert/strict";
import { Dispatcher, type CallContext } from "rpc/dispatcher";
import { startWsChannel, type WsChannelInfo } from "rpc/ws-channel";
import type { WsConnection, WsConnectionHandlers } from "platform/ports";

/** A WebSocket server port whose connections the test opens by hand. */
function setup() {
  const rpc = new Dispatcher(() => "esp32_ABCDEF");
  let accept: ((c: WsConnection) => WsConnectionHandlers) | undefined;
  startWsChannel(rpc, (a) => (accept = a));
  const connect = (peer: string, headers: Record<string, string> = {}) => {
    const sent: string[] = [];
    const conn = { peer, headers, target: "/rpc", sent, closed: false, send: (t: string) => sent.push(t), close: () => (conn.closed = true) };
    const handlers = accept!(conn);
    return { ...handlers, conn };
  };
  return { rpc, connect };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("WebSocket channel", () => {
  it("answers each connection on itself, matching interleaved ids, in whatever order handlers finish", async () => {
    const { rpc, connect } = setup();
    const finish: Array<() => void> = [];
    rpc.add("Later", "", (args) => new Promise((resolve) => finish.push(() => resolve(args))));
    const a = connect("10.0.0.1:1");
    const b = connect("10.0.0.2:2");
    a.onMessage('{"id":1,"src":"a","method":"Later","params":"a1"}');
    b.onMessage('{"id":1,"src":"b","method":"Later","params":"b1"}');
    a.onMessage('{"id":2,"src":"a","method":"Later","params":"a2"}');
    finish.reverse().forEach((f) => f());
    await settle();
    assert.deepEqual(a.conn.sent, ['{"id":2,"src":"esp32_ABCDEF","dst":"a","result":"a2"}', '{"id":1,"src":"esp32_ABCDEF","dst":"a","result":"a1"}']);
    assert.deepEqual(b.conn.sent, ['{"id":1,"src":"esp32_ABCDEF","dst":"b","result":"b1"}']);
  });

  it("drops the reply of a connection that closed meanwhile, silently", async () => {
    const { rpc, connect } = setup();
    let finish: () => void = () => {};
    rpc.add("Later", "", () => new Promise((resolve) => (finish = () => resolve(1))));
    const a = connect("10.0.0.1:1");
    a.onMessage('{"id":1,"method":"Later"}');
    a.onClose();
    finish();
    await settle();
    assert.deepEqual(a.conn.sent, []);
  });

  it("closes the connection on a frame for another device or no frame at all, without a reply", () => {
    const { connect } = setup();
    const wrongDst = connect("10.0.0.1:1");
    wrongDst.onMessage('{"id":1,"dst":"esp32_000000","method":"RPC.List"}');
    assert.deepEqual([wrongDst.conn.sent, wrongDst.conn.closed], [[], true]);
    const garbage = connect("10.0.0.1:2");
    garbage.onMessage("not json");
    assert.equal(garbage.conn.closed, true);
  });

  it("tells handlers the channel: WS_in, the peer, and the upgrade request (for channel authentication)", () => {
    const { rpc, connect } = setup();
    let seen: CallContext["channel"] | undefined;
    rpc.add("Who", "", (_args, ctx) => void (seen = ctx.channel));
    connect("10.0.0.1:1", { authorization: "Digest x" }).onMessage('{"id":1,"method":"Who"}');
    assert.deepEqual(seen as WsChannelInfo, {
      type: "WS_in",
      info: "10.0.0.1:1",
      headers: { authorization: "Digest x" },
      request: { method: "GET", uri: "/rpc" },
    });
  });
});
