// "board/mqtt-client" on the ESP32: the session with the broker named by
// mqttServer (esp32/board-config), over Moddable's classic `mqtt` Client, kept
// up with back-off (rpc/reconnect-backoff) once Wi-Fi is up.
//
// Moddable's client speaks QoS 0 only on the way in: its SUBSCRIBE always
// asks for QoS 0 and it never acknowledges a QoS 1 PUBLISH. Asking the broker
// for QoS 1 would leave every request unacknowledged until the broker stopped
// delivering, so subscriptions are made at QoS 0 whatever the channel asks
// (a request sent while the board is offline is lost; mos then times out).
// On the way out a QoS 1 PUBLISH is sent as such, without retransmission.

import Client from "mqtt";
import Timer from "timer";
import type { MqttClientPort, MqttQos, MqttSession, MqttSessionHandlers } from "platform/ports";
import { ReconnectBackoff } from "rpc/reconnect-backoff";
import { mqttSettings, type MqttSettings } from "esp32/board-config";
import { errorText, guard } from "esp32/guard";
import { whenNetworkUp } from "esp32/network";
import { log } from "sys/log";

/** QoS 1 replies kept for the next connection; beyond this the oldest go. */
const MAX_QUEUED = 16;

export const mqttClient: MqttClientPort = {
  start(clientId, handlers) {
    const settings = mqttSettings();
    const session = new BrokerSession(clientId, settings, handlers);
    if (settings.server === "") log.info("mqtt", "no broker configured (mqttServer): MQTT stays off");
    else whenNetworkUp(() => session.connect());
    return session;
  },
};

class BrokerSession implements MqttSession {
  readonly #clientId: string;
  readonly #settings: MqttSettings;
  readonly #handlers: MqttSessionHandlers;
  readonly #backoff = new ReconnectBackoff();
  #client: Client | undefined;
  #connected = false;
  #retry: ReturnType<typeof Timer.set> | undefined;
  #queue: Array<{ readonly topic: string; readonly payload: string }> = [];

  constructor(clientId: string, settings: MqttSettings, handlers: MqttSessionHandlers) {
    this.#clientId = clientId;
    this.#settings = settings;
    this.#handlers = handlers;
  }

  connect(): void {
    this.#retry = undefined;
    const broker = parseServer(this.#settings.server);
    if (typeof broker === "string") {
      log.error("mqtt", broker);
      return;
    }
    const { host, port } = broker;
    let client: Client;
    try {
      client = new Client({
        host,
        port,
        id: this.#clientId,
        ...(this.#settings.user !== "" ? { user: this.#settings.user } : {}),
        ...(this.#settings.password !== "" ? { password: this.#settings.password } : {}),
        timeout: this.#settings.keepAliveS * 1000,
      });
    } catch (e) {
      this.#lost(`cannot connect to ${host}:${port}: ${errorText(e)}`);
      return;
    }
    this.#client = client;
    client.onReady = guard("mqtt", () => {
      if (this.#client !== client) return;
      this.#connected = true;
      this.#backoff.reset();
      this.#handlers.onConnect(`${host}:${port}`);
      for (const { topic, payload } of this.#queue.splice(0)) this.publish(topic, payload, 1);
    });
    client.onMessage = guard("mqtt", (topic: string, payload: ArrayBuffer) => {
      if (this.#client === client) this.#handlers.onMessage(topic, String.fromArrayBuffer(payload));
    });
    client.onClose = guard("mqtt", () => {
      if (this.#client === client) this.#lost(`lost ${host}:${port}`);
    });
  }

  subscribe(filters: readonly string[], _qos: MqttQos): void {
    if (!this.#client || !this.#connected) return; // the channel subscribes again on every connection
    try {
      for (const filter of filters) this.#client.subscribe(filter);
    } catch (e) {
      this.#lost(`cannot subscribe: ${errorText(e)}`);
    }
  }

  publish(topic: string, payload: string, qos: MqttQos): void {
    if (this.#client && this.#connected) {
      try {
        this.#client.publish(topic, payload, { quality: qos });
        return;
      } catch (e) {
        // The socket refused the bytes: the connection is no good any more.
        this.#lost(`cannot publish: ${errorText(e)}`);
      }
    }
    if (qos === 1) {
      if (this.#queue.length >= MAX_QUEUED) log.warn("mqtt", `dropped a queued message to ${this.#queue.shift()!.topic}`);
      this.#queue.push({ topic, payload });
    }
  }

  #lost(why: string): void {
    const client = this.#client;
    this.#client = undefined;
    try {
      client?.close(true);
    } catch {
      // Already closed by the mqtt module.
    }
    const wasConnected = this.#connected;
    this.#connected = false;
    if (wasConnected) this.#handlers.onDisconnect();
    if (this.#retry !== undefined) return;
    const ms = this.#backoff.next();
    log.warn("mqtt", `${why}; trying again in ${ms} ms`);
    this.#retry = Timer.set(guard("mqtt", () => this.connect()), ms);
  }
}

/** "host" or "host:port" (default 1883); a reason string when unusable. */
function parseServer(server: string): { readonly host: string; readonly port: number } | string {
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(server.trim());
  const port = m?.[2] === undefined ? 1883 : Number(m[2]);
  if (!m || port < 1 || port > 65535) return `mqttServer "${server}" is not host or host:port; MQTT stays off`;
  return { host: m[1]!, port };
}
