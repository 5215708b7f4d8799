// The firmware's MQTT codec against mqtt-packet (the codec of the mqtt npm
// client and of the aedes broker): what ours writes, theirs reads as meant,
// and what theirs writes, ours reads.
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import {
  MqttReader,
  MqttType,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  type MqttReadEvent,
} from "./mqtt-packets.ts";

function parseWithTheirs(bytes: Uint8Array): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: mqttPacket.Packet[] = [];
  parser.on("packet", (p) => packets.push(p));
  parser.on("error", (e) => assert.fail(e));
  parser.parse(Buffer.from(bytes));
  return packets;
}

function theirs(packet: object): Uint8Array {
  return new Uint8Array(mqttPacket.generate(packet as mqttPacket.Packet, { protocolVersion: 4 }));
}

function readAll(reader: MqttReader): MqttReadEvent[] {
  const events: MqttReadEvent[] = [];
  for (let e = reader.next(); e; e = reader.next()) events.push(e);
  return events;
}

describe("MQTT 3.1.1 packets", () => {
  it("writes CONNECT with client id, keep-alive, clean session and credentials as mqtt-packet reads them", () => {
    const [p] = parseWithTheirs(encodeConnect({ clientId: "esp32_ABCDEF", keepAliveS: 60, cleanSession: true, user: "dev", password: "sécret" }));
    assert.equal(p!.cmd, "connect");
    const c = p as mqttPacket.IConnectPacket;
    assert.equal(c.protocolId, "MQTT");
    assert.equal(c.protocolVersion, 4);
    assert.equal(c.clientId, "esp32_ABCDEF");
    assert.equal(c.keepalive, 60);
    assert.equal(c.clean, true);
    assert.equal(c.username, "dev");
    assert.equal(Buffer.from(c.password!).toString("utf8"), "sécret");
    const [anon] = parseWithTheirs(encodeConnect({ clientId: "x", keepAliveS: 0, cleanSession: false }));
    assert.equal((anon as mqttPacket.IConnectPacket).username, undefined);
  });

  it("writes PUBLISH at QoS 0 and 1 (with id and DUP), SUBSCRIBE, PUBACK, PINGREQ and DISCONNECT", () => {
    const payload = new Uint8Array(300).fill(0x41);
    const [q0, q1] = parseWithTheirs(
      Uint8Array.from([
        ...encodePublish({ topic: "esp32_1/rpc", payload, qos: 0 }),
        ...encodePublish({ topic: "dst/rpc", payload: new Uint8Array([1, 2]), qos: 1, packetId: 513, dup: true }),
      ]),
    );
    assert.deepEqual([q0!.cmd, (q0 as mqttPacket.IPublishPacket).topic, (q0 as mqttPacket.IPublishPacket).qos], ["publish", "esp32_1/rpc", 0]);
    assert.deepEqual(Buffer.from((q0 as mqttPacket.IPublishPacket).payload as Buffer), Buffer.from(payload));
    const p1 = q1 as mqttPacket.IPublishPacket;
    assert.deepEqual([p1.qos, p1.messageId, p1.dup, [...(p1.payload as Buffer)]], [1, 513, true, [1, 2]]);
    const [sub] = parseWithTheirs(encodeSubscribe(7, ["esp32_1/rpc", "esp32_1/rpc/#"], 1));
    assert.deepEqual((sub as mqttPacket.ISubscribePacket).subscriptions, [
      { topic: "esp32_1/rpc", qos: 1 },
      { topic: "esp32_1/rpc/#", qos: 1 },
    ]);
    assert.equal((sub as mqttPacket.ISubscribePacket).messageId, 7);
    assert.deepEqual(
      parseWithTheirs(Uint8Array.from([...encodePuback(65535), ...encodePingreq(), ...encodeDisconnect()])).map((p) => p.cmd),
      ["puback", "pingreq", "disconnect"],
    );
  });

  it("reads what a broker sends, split anywhere", () => {
    const stream = Uint8Array.from([
      ...theirs({ cmd: "connack", returnCode: 0, sessionPresent: true }),
      ...theirs({ cmd: "suback", messageId: 7, granted: [1, 128] }),
      ...theirs({ cmd: "publish", topic: "esp32_1/rpc/Sys.GetInfo", payload: Buffer.from('{"id":1}'), qos: 1, messageId: 9, dup: false, retain: false }),
      ...theirs({ cmd: "puback", messageId: 3 }),
      ...theirs({ cmd: "pingresp" }),
    ]);
    for (const step of [1, 2, 7, stream.length]) {
      const reader = new MqttReader(16 * 1024);
      const events: MqttReadEvent[] = [];
      for (let at = 0; at < stream.length; at += step) {
        reader.push(stream.subarray(at, at + step));
        events.push(...readAll(reader));
      }
      const packets = events.map((e) => (e.kind === "packet" ? e.packet : assert.fail(JSON.stringify(e))));
      assert.deepEqual(
        packets.map((p) => p.type),
        [MqttType.CONNACK, MqttType.SUBACK, MqttType.PUBLISH, MqttType.PUBACK, MqttType.PINGRESP],
        `split every ${step}`,
      );
      const publish = packets[2]!;
      assert.ok(publish.type === MqttType.PUBLISH);
      assert.equal(Buffer.from(publish.topic).toString(), "esp32_1/rpc/Sys.GetInfo");
      assert.equal(Buffer.from(publish.payload).toString(), '{"id":1}');
      assert.equal(publish.packetId, 9);
      assert.deepEqual(packets[1], { type: MqttType.SUBACK, packetId: 7, granted: [1, 128] });
    }
  });

  it("skips a packet over the limit without buffering it, then reads on", () => {
    const big = theirs({ cmd: "publish", topic: "t", payload: Buffer.alloc(100_000, 0x42), qos: 0, dup: false, retain: false });
    const small = theirs({ cmd: "pingresp" });
    const reader = new MqttReader(16 * 1024);
    const events: MqttReadEvent[] = [];
    for (let at = 0; at < big.length; at += 1460) {
      reader.push(big.subarray(at, at + 1460));
      events.push(...readAll(reader));
    }
    reader.push(small);
    events.push(...readAll(reader));
    assert.deepEqual(events, [
      { kind: "oversize", type: MqttType.PUBLISH, length: big.length - 4 },
      { kind: "packet", packet: { type: MqttType.PINGRESP } },
    ]);
  });

  it("gives the packet id of a QoS 1 message over the limit, which still needs its PUBACK, split anywhere", () => {
    const big = theirs({ cmd: "publish", topic: "esp32_1/rpc", payload: Buffer.alloc(20_000, 0x42), qos: 1, messageId: 77, dup: false, retain: false });
    for (const step of [1, 5, 13, 1460]) {
      const reader = new MqttReader(4 * 1024);
      const events: MqttReadEvent[] = [];
      for (let at = 0; at < big.length; at += step) {
        reader.push(big.subarray(at, at + step));
        events.push(...readAll(reader));
      }
      assert.deepEqual(events, [{ kind: "oversize", type: MqttType.PUBLISH, length: big.length - 4, packetId: 77 }], `split every ${step}`);
    }
    const longTopic = theirs({ cmd: "publish", topic: "t".repeat(5000), payload: Buffer.alloc(10), qos: 1, messageId: 1, dup: false, retain: false });
    const reader = new MqttReader(4 * 1024);
    reader.push(longTopic);
    assert.deepEqual(reader.next(), { kind: "error", reason: "a topic of 5000 bytes" });
  });

  it("gives up on a stream that is not MQTT", () => {
    const reader = new MqttReader(1024);
    reader.push(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    assert.deepEqual(reader.next(), { kind: "error", reason: "malformed Remaining Length" });
    const other = new MqttReader(1024);
    other.push(theirs({ cmd: "pingreq" }));
    assert.deepEqual(other.next(), { kind: "error", reason: "unexpected packet type 12 from the broker" });
  });
});
