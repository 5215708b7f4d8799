// Moddable's classic MQTT client (modules/network/mqtt/mqtt.js), which its
// typings do not cover (they type only the ECMA-419 client and "mqtt/js").
// Mapped for the ESP32 build in manifest.json, so mcconfig's tsc reads it too.

declare module "mqtt" {
  export interface MqttWill {
    topic: string;
    message: string | ArrayBuffer;
    retain?: boolean;
    quality?: 0 | 1 | 2;
  }

  export interface MqttClientOptions {
    host: string;
    /** 1883 by default (80 with `path`). */
    port?: number;
    id?: string;
    user?: string;
    password?: string | ArrayBuffer;
    will?: MqttWill;
    /** Keep-alive interval in milliseconds; 0 for none. */
    timeout?: number;
    /** MQTT over WebSocket on this path. */
    path?: string;
    Socket?: unknown;
    secure?: Record<string, unknown>;
  }

  export interface MqttPublishFlags {
    quality?: 0 | 1 | 2;
    retain?: boolean;
    duplicate?: boolean;
  }

  export default class Client {
    constructor(options: MqttClientOptions);
    /** CONNACK received: the session is up. Called without a check, so it must be set. */
    onReady: () => void;
    onConnected?: () => void;
    onMessage?: (topic: string, payload: ArrayBuffer) => void;
    /** The connection failed or closed; the client is closed after it. */
    onClose?: () => void;
    /** Throws "connection closed" before CONNACK. */
    publish(topic: string, data: string | ArrayBuffer, flags?: MqttPublishFlags): void;
    /** Subscribes at QoS 0. */
    subscribe(topic: string): void;
    unsubscribe(topic: string): void;
    /** Sends DISCONNECT first unless `immediate`. */
    close(immediate?: boolean): void;
  }
}
