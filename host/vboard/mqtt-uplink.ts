// The virtual board's MQTT connection, held by the supervisor as the network
// holds a device's: it outlives resets, and comes back with back-off
// (rpc/reconnect-backoff) when the broker goes away. The firmware's
// board/mqtt-client asks for it with its client id (mqtt-start), subscribes
// and publishes over the link, and hears of each connection (mqtt-up, after
// which it subscribes again) and of each message. A boot's subscriptions end
// with the boot, so nothing reaches a board that is not up to subscribe.

import { EventEmitter } from "node:events";
import mqtt, { type MqttClient } from "mqtt";
import { ReconnectBackoff } from "rpc/reconnect-backoff";
import type { LinkFrame } from "./link-codec.ts";

type LinkMessage = LinkFrame["message"];

/** QoS 1 messages kept while the broker is away (as board/mqtt-client promises); beyond this the oldest go. */
const MAX_WAITING = 16;

export declare interface MqttUplink {
  /** The broker acknowledged the board's subscriptions: the device is reachable over MQTT. */
  on(event: "subscribed", listener: (filters: string[]) => void): this;
  /** A change worth telling the user: connected, lost, cannot connect. */
  on(event: "state", listener: (text: string) => void): this;
}

export class MqttUplink extends EventEmitter {
  readonly brokerUrl: string;
  readonly #send: (message: LinkMessage) => void;
  readonly #backoff = new ReconnectBackoff(500, 30_000);
  #client: MqttClient | undefined;
  #clientId: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** The running boot asked for MQTT and has not ended. */
  #boardStarted = false;
  /** Filters the running boot subscribed to. */
  readonly #filters = new Set<string>();
  /** QoS 1 messages of the running boot published while disconnected. */
  #waiting: Array<{ topic: string; payload: string }> = [];
  #closed = false;

  constructor(brokerUrl: string, send: (message: LinkMessage) => void) {
    super();
    this.brokerUrl = brokerUrl;
    this.#send = send;
  }

  /** "host:port" of the broker, as the board's channel reports it. */
  get broker(): string {
    const url = new URL(this.brokerUrl);
    return `${url.hostname}:${url.port || (url.protocol === "mqtts:" ? 8883 : 1883)}`;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** A link message from the board; false when it is not about MQTT. */
  linkMessage(message: LinkMessage): boolean {
    switch (message.t) {
      case "mqtt-start":
        this.#start(String(message.clientId));
        return true;
      case "mqtt-subscribe":
        this.#subscribe((message.filters as string[]) ?? [], message.qos === 0 ? 0 : 1);
        return true;
      case "mqtt-publish": {
        const topic = String(message.topic);
        const payload = String(message.payload ?? "");
        if (this.connected) this.#client!.publish(topic, payload, { qos: message.qos === 0 ? 0 : 1, retain: false });
        else if (message.qos !== 0 && this.#waiting.push({ topic, payload }) > MAX_WAITING) this.#waiting.shift();
        return true;
      }
      default:
        return false;
    }
  }

  /** The board went down: its subscriptions end with it (the connection stays, as the network does). */
  boardDown(): void {
    this.#boardStarted = false;
    this.#waiting = [];
    if (this.#filters.size && this.connected) this.#client!.unsubscribe([...this.#filters]);
    this.#filters.clear();
  }

  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    return new Promise((resolve) => (client ? client.end(true, {}, () => resolve()) : resolve()));
  }

  #start(clientId: string): void {
    this.#boardStarted = true;
    if (this.#client && this.#clientId === clientId) {
      if (this.connected) this.#send({ t: "mqtt-up", broker: this.broker });
      return;
    }
    this.#client?.end(true);
    this.#clientId = clientId;
    this.#connect(clientId);
  }

  #connect(clientId: string): void {
    // The reconnection policy is ours (back-off), so mqtt.js's own is off, and
    // so is its resubscribing: the firmware subscribes again, as a device must.
    const client = mqtt.connect(this.brokerUrl, { clientId, clean: true, reconnectPeriod: 0, resubscribe: false, connectTimeout: 10_000, keepalive: 60 });
    this.#client = client;
    let lastError = "";
    let up = false;
    client.on("connect", () => {
      // mqtt.js writes a packet in pieces: without this, Nagle holds each reply ~40 ms.
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.#backoff.reset();
      lastError = "";
      up = true;
      this.emit("state", `connected to ${this.brokerUrl} as ${clientId}`);
      for (const m of this.#waiting.splice(0)) client.publish(m.topic, m.payload, { qos: 1, retain: false });
      if (this.#boardStarted) this.#send({ t: "mqtt-up", broker: this.broker });
    });
    client.on("message", (topic, payload) => {
      if (this.#boardStarted) this.#send({ t: "mqtt-message", topic, payload: payload.toString("utf8") });
    });
    client.on("error", (e: Error & { code?: string | number }) => (lastError = e.code === "ECONNREFUSED" ? "connection refused" : e.message));
    client.on("close", () => {
      if (this.#client !== client || this.#closed || this.#retry) return;
      this.#filters.clear();
      if (up && this.#boardStarted) this.#send({ t: "mqtt-down" });
      up = false;
      const delay = this.#backoff.next();
      this.emit("state", `no connection to ${this.brokerUrl}${lastError ? ` (${lastError})` : ""}; trying again in ${(delay / 1000).toFixed(1)} s`);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (this.#client === client && !this.#closed) client.reconnect();
      }, delay);
    });
  }

  #subscribe(filters: string[], qos: 0 | 1): void {
    const client = this.#client;
    if (!client?.connected || !filters.length) return;
    for (const f of filters) this.#filters.add(f);
    client.subscribe(filters, { qos }, (err, granted) => {
      if (err || !granted || granted.some((g) => g.qos === 128)) {
        this.emit("state", `the broker refused the subscriptions ${filters.join(", ")}`);
        return;
      }
      if (this.#client === client && this.#boardStarted) this.emit("subscribed", filters);
    });
  }
}
