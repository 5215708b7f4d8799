import assert from "node:assert/strict";
import { Dispatcher, type CallContext } from "rpc/dispatcher";
import { startMqttChannel } from "rpc/mqtt-channel";
import type { MqttSessionHandlers } from "platform/ports";

const ID = "esp32_ABCDEF";

/** An MQTT client port that records what the channel asks of it. */
function setup() {
  const rpc = new Dispatcher(() => ID);
  const drops: string[] = [];
  rpc.onDrop = (reason) => drops.push(reason);
  rpc.add("Echo", "", (args) => args);
  const subscribed: Array<{ filters: readonly string[]; qos: number }> = [];
  const published: Array<{ topic: string; payload: string; qos: number }> = [];
  let clientId = "";
  let session: MqttSessionHandlers | undefined;
  startMqttChannel(rpc, {
    start(id, handlers) {
      clientId = id;
      session = handlers;
      return {
        subscribe: (filters, qos) => subscribed.push({ filters, qos }),
        publish: (topic, payload, qos) => published.push({ topic, payload, qos }),
      };
    },
  });
  return { rpc, drops, subscribed, published, clientId: () => clientId, session: () => session! };
}

describe("MQTT channel", () => {
  it("connects as the device id and subscribes to <id>/rpc and <id>/rpc/# at QoS 1 on every connection", () => {
    const { subscribed, clientId, session } = setup();
    assert.equal(clientId(), ID);
    session().onConnect("broker:1883");
    session().onDisconnect();
    session().onConnect("broker:1883");
    const expected = { filters: [`${ID}/rpc`, `${ID}/rpc/#`], qos: 1 };
    assert.deepEqual(subscribed, [expected, expected]);
  });

  it("publishes the reply to <src>/rpc at QoS 1, src with slashes, and takes the method from the topic", () => {
    const { published, session } = setup();
    session().onConnect("broker:1883");
    session().onMessage(`${ID}/rpc`, `{"id":1,"src":"${ID}/rpc-resp/mos-1","dst":"${ID}","method":"Echo","params":[1]}`);
    session().onMessage(`${ID}/rpc/Echo`, '{"id":"x","src":"foo","params":{"a":"b"}}');
    assert.deepEqual(published, [
      { topic: `${ID}/rpc-resp/mos-1/rpc`, payload: `{"id":1,"src":"${ID}","dst":"${ID}/rpc-resp/mos-1","result":[1]}`, qos: 1 },
      { topic: "foo/rpc", payload: `{"id":"x","src":"${ID}","dst":"foo","result":{"a":"b"}}`, qos: 1 },
    ]);
  });

  it("publishes nothing for a frame without src, with a src that makes no topic, or for another device, and says why", () => {
    const { published, drops, session } = setup();
    session().onMessage(`${ID}/rpc`, '{"id":1,"method":"Echo"}');
    session().onMessage(`${ID}/rpc`, '{"id":2,"src":"foo","dst":"esp32_000000","method":"Echo"}');
    const unusable = ["a/#", "+", "a\\u0000b", "a\\u0013b", "a\\uffffb", "a\\ufdd0b", "a\\ud83f\\udfffb", "\\udbff\\udffe"];
    for (const src of unusable) session().onMessage(`${ID}/rpc`, `{"id":3,"src":"${src}","method":"Echo"}`);
    assert.deepEqual(published, []);
    const noTopic = "src makes no MQTT topic (wildcards, control characters or noncharacters)";
    assert.deepEqual(drops, ["frame without src", 'wrong dst "esp32_000000"', ...unusable.map(() => noTopic)]);
  });

  it("tells handlers the channel: MQTT, and the broker as its info", () => {
    const { rpc, session } = setup();
    let seen: CallContext["channel"] | undefined;
    rpc.add("Who", "", (_args, ctx) => void (seen = ctx.channel));
    session().onConnect("10.0.0.9:1883");
    session().onMessage(`${ID}/rpc`, '{"id":1,"src":"foo","method":"Who"}');
    assert.deepEqual({ ...seen }, { type: "MQTT", info: "10.0.0.9:1883" });
  });
});
