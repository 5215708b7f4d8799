// xs-ota over ws:// and mqtt:// ports against spec-following stand-ins (the
// virtual board is tested in test/ws.test.ts and test/mqtt.test.ts): mos's
// MQTT addressing seen from the broker, credentials from the URL, and the
// messages for ports that cannot be used.

import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { Aedes, type Client, type Subscription } from "aedes";
import { DEVICE_ID, replyTo } from "../../test/fake-device.ts";
import { runCli } from "../../test/run-cli.ts";

interface Broker {
  readonly url: string;
  readonly subscriptions: Array<{ client: string; topic: string; qos: number }>;
  readonly published: Array<{ client: string; topic: string; qos: number; retain: boolean; payload: string }>;
  readonly logins: Array<{ client: string; username?: string; password?: string }>;
  close(): Promise<void>;
}

/** A broker with a fake device on it that answers `<id>/rpc` at `<src>/rpc`; user "bad" is refused. */
async function startBrokerWithDevice(): Promise<Broker> {
  const subscriptions: Broker["subscriptions"] = [];
  const published: Broker["published"] = [];
  const logins: Broker["logins"] = [];
  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      logins.push({ client: client.id, username, password: password?.toString() });
      if (username === "bad") done(Object.assign(new Error("bad credentials"), { returnCode: 4 }), false);
      else done(null, true);
    },
  });
  aedes.on("subscribe", (subs: Subscription[], client: Client) => {
    for (const s of subs) subscriptions.push({ client: client.id, topic: s.topic, qos: s.qos });
  });
  aedes.on("publish", (packet, client) => {
    if (client) published.push({ client: client.id, topic: packet.topic, qos: packet.qos, retain: packet.retain, payload: packet.payload.toString() });
  });
  aedes.subscribe(
    `${DEVICE_ID}/rpc`,
    (packet, done) => {
      const frame = packet.payload.toString();
      const reply = replyTo(frame);
      const src = (JSON.parse(frame) as { src?: string }).src;
      if (reply && src) aedes.publish({ cmd: "publish", topic: `${src}/rpc`, payload: Buffer.from(reply), qos: 1, retain: false, dup: false }, () => {});
      done();
    },
    () => {},
  );
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => (sockets.add(s), aedes.handle(s)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    subscriptions,
    published,
    logins,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

describe("xs-ota over MQTT", () => {
  let broker: Broker;
  before(async () => (broker = await startBrokerWithDevice()));
  after(() => broker.close());

  it("speaks as mos: client id mos-<n>, replies subscribed at QoS 1 under <id>/rpc-resp/, requests to <id>/rpc at QoS 1 with dst", async () => {
    const r = await runCli(["--port", `${broker.url}/${DEVICE_ID}`, "call", "Echo", '{"a":1}']);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, '{\n  "a": 1\n}\n');
    const sub = broker.subscriptions.at(-1)!;
    assert.match(sub.client, /^mos-\d+$/);
    assert.deepEqual(sub, { client: sub.client, topic: `${DEVICE_ID}/rpc-resp/${sub.client}/rpc`, qos: 1 });
    const request = broker.published.filter((p) => p.client === sub.client);
    assert.equal(request.length, 1);
    assert.deepEqual({ ...request[0]!, payload: undefined }, { client: sub.client, topic: `${DEVICE_ID}/rpc`, qos: 1, retain: false, payload: undefined });
    const frame = JSON.parse(request[0]!.payload) as Record<string, unknown>;
    assert.equal(frame.src, `${DEVICE_ID}/rpc-resp/${sub.client}`);
    assert.equal(frame.dst, DEVICE_ID);
    assert.deepEqual(frame.params, { a: 1 });
  });

  it("logs in with the URL's user and password, and reports a refusal", async () => {
    const ok = await runCli(["--port", `mqtt://user:p%40ss@${broker.url.slice("mqtt://".length)}/${DEVICE_ID}`, "call", "RPC.Ping"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(broker.logins.at(-1), { client: broker.logins.at(-1)!.client, username: "user", password: "p@ss" });
    const refused = await runCli(["--port", `mqtt://bad:x@${broker.url.slice("mqtt://".length)}/${DEVICE_ID}`, "call", "RPC.Ping"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `cannot reach ${broker.url}/${DEVICE_ID}: Connection refused: Bad username or password\n`);
  });

  it("times out clearly when no device answers, and refuses a URL without a device id", async () => {
    const silent = await runCli(["--port", `${broker.url}/esp32_000000`, "--timeout", "500ms", "call", "RPC.Ping"]);
    assert.equal(silent.code, 1);
    assert.equal(silent.stderr, `no reply to RPC.Ping from ${broker.url}/esp32_000000 within 0.5 s\n`);
    const noId = await runCli(["--port", broker.url, "call", "RPC.Ping"]);
    assert.equal(noId.code, 1);
    assert.equal(noId.stderr, `no device id in ${broker.url}: use mqtt://broker[:port]/<device id>\n`);
  });

  it("reports a broker where nothing listens", async () => {
    const r = await runCli(["--port", "mqtt://127.0.0.1:9/esp32_000000", "call", "RPC.Ping"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "cannot reach mqtt://127.0.0.1:9/esp32_000000: connection refused\n");
  });
});

describe("xs-ota over WebSocket: ports that cannot be used", () => {
  it("reports a port where nothing listens, and an HTTP server that does not upgrade", async () => {
    const r = await runCli(["--port", "ws://127.0.0.1:9/rpc", "call", "RPC.Ping"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "cannot reach ws://127.0.0.1:9/rpc: connection refused\n");
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    try {
      const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/rpc`;
      const plain = await runCli(["--port", url, "call", "RPC.Ping"]);
      assert.equal(plain.code, 1);
      assert.equal(plain.stderr, `${url} answered HTTP 404 Not Found instead of a WebSocket upgrade: is RPC over WebSocket served there?\n`);
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
  });
});
