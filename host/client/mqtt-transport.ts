// mgrpc over MQTT as mos speaks it (spec/mos-rpc.md §2.5):
// mqtt://[user:pass@]broker[:port]/<device id>. The client id is mos-<random>;
// requests go to `<device id>/rpc` at QoS 1 with dst = device id and
// src = `<device id>/rpc-resp/<client id>`, and replies come back on
// `<src>/rpc`, subscribed at QoS 1 before anything is sent. A lost broker
// connection is opened again (same client id, same src) by the next send.

import mqtt, { type MqttClient } from "mqtt";
import { TransportError, type FrameTransport } from "./transport.ts";

const CONNECT_TIMEOUT_MS = 10_000;

export class MqttTransport implements FrameTransport {
  readonly description: string;
  readonly addressing: { readonly src: string; readonly dst: string };
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly #brokerUrl: string;
  readonly #options: mqtt.IClientOptions;
  readonly #deviceId: string;
  readonly #replyTopic: string;
  #client: Promise<MqttClient> | undefined;
  #closed = false;

  constructor(url: URL) {
    if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") throw new TransportError(`not an MQTT URL: ${url.href}`);
    const deviceId = decodeURIComponent(url.pathname.replace(/^\/+/, ""));
    if (!deviceId || deviceId.includes("/")) throw new TransportError(`no device id in ${url.href}: use mqtt://broker[:port]/<device id>`);
    const clientId = `mos-${Math.floor(Math.random() * 2 ** 31)}`;
    this.#deviceId = deviceId;
    this.addressing = { src: `${deviceId}/rpc-resp/${clientId}`, dst: deviceId };
    this.#replyTopic = `${this.addressing.src}/rpc`;
    this.#brokerUrl = `${url.protocol}//${url.host}`;
    this.#options = {
      clientId,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
    };
    // The password stays out of messages.
    this.description = `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ""}/${deviceId}`;
  }

  /** Connect and subscribe now, so that a wrong broker is reported before any call. */
  async connect(): Promise<void> {
    await this.#open();
  }

  #open(): Promise<MqttClient> {
    if (this.#client) return this.#client;
    const opening = new Promise<MqttClient>((resolve, reject) => {
      const client = mqtt.connect(this.#brokerUrl, this.#options);
      const fail = (why: string) => {
        if (this.#client === opening) this.#client = undefined;
        client.end(true);
        reject(new TransportError(`cannot reach ${this.description}: ${why}`));
      };
      client.once("connect", () => {
        // mqtt.js writes a packet in pieces: without this, Nagle holds each request ~40 ms.
        (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        client.subscribe(this.#replyTopic, { qos: 1 }, (err, granted) => {
          if (err || granted?.some((g) => g.qos === 128)) fail(`the broker refused the subscription to ${this.#replyTopic}`);
          else resolve(client);
        });
      });
      client.on("error", (e: Error & { code?: string | number }) =>
        fail(e.code === "ECONNREFUSED" ? "connection refused" : e.code === "ENOTFOUND" ? "host not found" : e.message),
      );
      client.on("close", () => {
        if (this.#client === opening) this.#client = undefined;
        fail("connection closed");
      });
      client.on("message", (topic, payload) => {
        if (topic === this.#replyTopic) this.onFrame(payload.toString("utf8"));
      });
    });
    this.#client = opening;
    return opening;
  }

  async send(json: string): Promise<void> {
    if (this.#closed) throw new TransportError(`${this.description} is closed`);
    const client = await this.#open();
    await new Promise<void>((resolve, reject) =>
      client.publish(`${this.#deviceId}/rpc`, json, { qos: 1, retain: false }, (err) =>
        err ? reject(new TransportError(`publish to ${this.description} failed: ${err.message}`)) : resolve(),
      ),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#client;
    this.#client = undefined;
    const client = await opening?.catch(() => undefined);
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}
