import assert from "node:assert/strict";
import { RemoteError, RpcClient, TimeoutError } from "./rpc-client.ts";
import { TransportError, type FrameTransport } from "./transport.ts";

/** A transport whose device is a function of the request frame. */
class LoopbackTransport implements FrameTransport {
  readonly description = "loopback";
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly sent: string[] = [];
  constructor(private readonly device: (frame: string, reply: (json: string) => void) => void) {}
  async send(json: string): Promise<void> {
    this.sent.push(json);
    this.device(json, (r) => setImmediate(() => this.onFrame(r)));
  }
  async close(): Promise<void> {}
}

const idOf = (frame: string) => /"id":(\d+)/.exec(frame)![1]!;

describe("RpcClient", () => {
  it("matches replies to calls by id, whatever their order", async () => {
    const held: Array<() => void> = [];
    const t = new LoopbackTransport((f, reply) => {
      const m = JSON.parse(f).method as string;
      held.push(() => reply(`{"id":${idOf(f)},"src":"d","result":"${m}"}`));
    });
    const c = new RpcClient(t);
    const a = c.call("A");
    const b = c.call("B");
    await new Promise((r) => setImmediate(r));
    held.reverse().forEach((f) => f());
    assert.deepEqual(await Promise.all([a, b]), ["A", "B"]);
  });
  it("sends mos-shaped frames with ids in [2^40, 2^41) and omits absent params", async () => {
    const t = new LoopbackTransport((f, reply) => reply(`{"id":${idOf(f)},"result":null}`));
    const c = new RpcClient(t, { dst: "dev" });
    await c.call("X");
    await c.call("Y", { a: 1 });
    const [x, y] = t.sent.map((f) => JSON.parse(f));
    assert.deepEqual(Object.keys(x), ["src", "dst", "id", "method"]);
    assert.equal(x.src, "mos");
    assert.ok(x.id >= 2 ** 40 && x.id < 2 ** 41 && Number.isInteger(x.id));
    assert.deepEqual(y.params, { a: 1 });
  });
  it("rejects with RemoteError on an error reply, but treats code 0 as success", async () => {
    const t = new LoopbackTransport((f, reply) =>
      reply(JSON.parse(f).method === "Bad" ? `{"id":${idOf(f)},"error":{"code":-1}}` : `{"id":${idOf(f)},"error":{"code":0,"message":"ok"}}`),
    );
    const c = new RpcClient(t);
    await assert.rejects(c.call("Bad"), (e: unknown) => e instanceof RemoteError && e.code === -1 && e.message === "remote error -1: ");
    assert.equal(await c.call("Good"), null);
  });
  it("ignores replies with unknown ids and times out", async () => {
    const t = new LoopbackTransport((_f, reply) => reply('{"id":1,"result":1}'));
    const c = new RpcClient(t, { timeoutMs: 50 });
    await assert.rejects(c.call("X"), (e: unknown) => e instanceof TimeoutError && e.message === "no reply to X from loopback within 0.05 s");
  });
  it("passes transport failures through", async () => {
    const t = new LoopbackTransport(() => {});
    t.send = async () => {
      throw new TransportError("cable unplugged");
    };
    await assert.rejects(new RpcClient(t).call("X"), /cable unplugged/);
  });
});
