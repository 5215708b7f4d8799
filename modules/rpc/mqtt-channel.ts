// The RPC channel over MQTT (spec/mos-rpc.md §2.5): subscribed to
// `<device id>/rpc` and `<device id>/rpc/#` at QoS 1 on every (re)connection,
// each message routed by rpc/mqtt-topics, each reply published at QoS 1 to
// `<request src>/rpc`. Frames without src or for another device get nothing.
// Keeping the broker connection up is the port's job (board/mqtt-client).

import type { Dispatcher } from "rpc/dispatcher";
import { mqttIncoming, mqttReplyTopic, mqttSubscriptions } from "rpc/mqtt-topics";
import type { MqttClientPort } from "platform/ports";
import { log } from "sys/log";

const QOS = 1;

export function startMqttChannel(rpc: Dispatcher, mqtt: MqttClientPort, clientId: string = rpc.deviceId): void {
  const deviceId = rpc.deviceId;
  // One persistent channel; its info is the broker, for RPC.Ping.
  const channel: { readonly type: "MQTT"; info: string } = { type: "MQTT", info: "" };
  const session = mqtt.start(clientId, {
    onConnect(broker) {
      channel.info = broker;
      log.info("mqtt", `connected to ${broker} as ${clientId}`);
      session.subscribe(mqttSubscriptions(deviceId), QOS);
    },
    onDisconnect() {
      log.warn("mqtt", `lost the broker ${channel.info}`);
    },
    onMessage(topic, payload) {
      const incoming = mqttIncoming(topic, payload, deviceId);
      if (!incoming.ok) {
        rpc.onDrop(incoming.reason, channel);
        return;
      }
      const replyTopic = mqttReplyTopic(incoming.frame.src);
      rpc.handleFrame(incoming.frame, channel, (reply) => {
        if (replyTopic !== undefined) session.publish(replyTopic, reply, QOS);
      });
    },
  });
}
