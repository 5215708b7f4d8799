// "board/mqtt-client" on the virtual board: the supervisor holds the broker
// connection (it outlives resets, as the network does) and its reconnection
// with back-off; the board asks it to subscribe and publish, and hears of
// every (re)connection and every message over the link.

import type { MqttClientPort } from "platform/ports";
import { onLink, sendLink } from "vboard/link";

export const mqttClient: MqttClientPort = {
  start(clientId, handlers) {
    onLink("mqtt-up", (m) => handlers.onConnect(String(m.broker)));
    onLink("mqtt-down", () => handlers.onDisconnect());
    onLink("mqtt-message", (m) => handlers.onMessage(String(m.topic), String(m.payload)));
    sendLink({ t: "mqtt-start", clientId });
    return {
      subscribe(filters, qos) {
        sendLink({ t: "mqtt-subscribe", filters: [...filters], qos });
      },
      publish(topic, payload, qos) {
        sendLink({ t: "mqtt-publish", topic, payload, qos });
      },
    };
  },
};
