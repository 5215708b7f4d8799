// The board's MQTT client, on both boards: one session with the broker named
// by mqttServer (sys/board-config), over a TCP socket (Moddable's classic
// `socket`) with net/mqtt-packets, kept up with back-off (rpc/reconnect-
// backoff) once the network is up. MQTT 3.1.1 at QoS 0 and 1 both ways:
// subscriptions at the QoS the channel asks, incoming QoS 1 messages
// acknowledged, outgoing QoS 1 messages kept until the broker acknowledges
// them and sent again (DUP) after a reconnection. A silent broker is found
// by the keep-alive: a PINGREQ unanswered for a whole interval drops the
// connection.

import Timer from "timer";
import { whenNetworkUp } from "board/network";
import type { MqttClientPort, MqttQos, MqttSession, MqttSessionHandlers } from "platform/ports";
import { ReconnectBackoff } from "rpc/reconnect-backoff";
import { encodeUtf8 } from "sys/utf8";
import {
  CONNACK_REASONS,
  MqttReader,
  MqttType,
  encodeConnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  type MqttPacket,
} from "net/mqtt-packets";
import { SocketOutput } from "net/socket-output";
import { SocketMessage, connectSocket, type StreamSocket } from "net/tcp-sockets";
import { mqttSettings, type MqttSettings } from "sys/board-config";
import { errorText, guard } from "sys/guard";
import { log } from "sys/log";
import { MAX_FRAME_SIZE } from "rpc/frame";

/**
 * A PUBLISH carries one RPC frame behind its topic (the device id, /rpc and
 * at most a method name: well under 512 bytes); a larger message is skipped
 * as it arrives, with a log line.
 */
const MAX_PACKET = MAX_FRAME_SIZE + 512;
/** QoS 1 messages waiting for an acknowledgement or a connection; beyond this the oldest go. */
const MAX_UNACKED = 16;
/** How long the broker has to answer CONNECT. */
const CONNACK_MS = 10_000;

export const mqttClient: MqttClientPort = {
  start(clientId, handlers) {
    const settings = mqttSettings();
    const session = new BrokerSession(clientId, settings, handlers);
    if (settings.server === "") log.info("mqtt", "no broker configured (mqttServer): MQTT stays off");
    else whenNetworkUp(() => session.connect());
    return session;
  },
};

interface Unacked {
  readonly packetId: number;
  readonly topic: string;
  readonly payload: Uint8Array;
}

class BrokerSession implements MqttSession {
  readonly #clientId: string;
  readonly #settings: MqttSettings;
  readonly #handlers: MqttSessionHandlers;
  readonly #backoff = new ReconnectBackoff();
  #connection: Connection | undefined;
  #retry: ReturnType<typeof Timer.set> | undefined;
  /** QoS 1 messages not yet acknowledged, oldest first: sent again on every connection. */
  #unacked: Unacked[] = [];
  #nextPacketId = 1;

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
    try {
      this.#connection = new Connection(this, connectSocket(broker.host, broker.port), `${broker.host}:${broker.port}`);
    } catch (e) {
      this.lost(undefined, `cannot connect to ${broker.host}:${broker.port}: ${errorText(e)}`);
    }
  }

  get connectOptions() {
    const { user, password, keepAliveS } = this.#settings;
    return {
      clientId: this.#clientId,
      keepAliveS,
      cleanSession: true,
      ...(user !== "" ? { user, ...(password !== "" ? { password } : {}) } : {}),
    };
  }

  /** The broker accepted the connection: the channel subscribes, then what waits goes out. */
  up(connection: Connection): void {
    if (this.#connection !== connection) return;
    this.#backoff.reset();
    log.info("mqtt", `connected to ${connection.broker}`);
    this.#handlers.onConnect(connection.broker);
    for (const message of this.#unacked) connection.send(encodePublish({ ...message, qos: 1, dup: true }));
  }

  message(topic: string, payload: string): void {
    this.#handlers.onMessage(topic, payload);
  }

  acknowledged(packetId: number): void {
    this.#unacked = this.#unacked.filter((m) => m.packetId !== packetId);
  }

  /** The connection is gone (or never came): tell the channel, try again after the back-off. */
  lost(connection: Connection | undefined, why: string, wasUp = false): void {
    if (connection !== undefined && this.#connection !== connection) return;
    this.#connection = undefined;
    if (wasUp) this.#handlers.onDisconnect();
    if (this.#retry !== undefined) return;
    const ms = this.#backoff.next();
    log.warn("mqtt", `${why}; trying again in ${ms} ms`);
    this.#retry = Timer.set(guard("mqtt", () => this.connect()), ms);
  }

  subscribe(filters: readonly string[], qos: MqttQos): void {
    // Only on a live connection: the channel subscribes again on every connection.
    if (this.#connection?.isUp) this.#connection.subscribe(this.#packetId(), filters, qos);
  }

  publish(topic: string, payload: string, qos: MqttQos): void {
    const bytes = encodeUtf8(payload);
    if (qos === 0) {
      if (this.#connection?.isUp) this.#connection.send(encodePublish({ topic, payload: bytes, qos: 0 }));
      return;
    }
    const message = { packetId: this.#packetId(), topic, payload: bytes };
    if (this.#unacked.length >= MAX_UNACKED) log.warn("mqtt", `dropped an unacknowledged message to ${this.#unacked.shift()!.topic}`);
    this.#unacked.push(message);
    if (this.#connection?.isUp) this.#connection.send(encodePublish({ ...message, qos: 1 }));
  }

  #packetId(): number {
    const id = this.#nextPacketId;
    this.#nextPacketId = id === 0xffff ? 1 : id + 1;
    return id;
  }
}

/** One TCP connection to the broker, from CONNECT to its loss. */
class Connection {
  readonly broker: string;
  readonly #session: BrokerSession;
  readonly #socket: StreamSocket;
  readonly #output: SocketOutput;
  readonly #reader = new MqttReader(MAX_PACKET);
  #up = false;
  #closed = false;
  #timer: ReturnType<typeof Timer.set> | undefined;
  /** A PINGREQ went out and nothing has come back since. */
  #pinged = false;
  /** SUBSCRIBEs sent and not yet acknowledged, by packet id. */
  readonly #subscribing = new Map<number, { readonly filters: readonly string[]; readonly qos: MqttQos }>();

  constructor(session: BrokerSession, socket: StreamSocket, broker: string) {
    this.#session = session;
    this.#socket = socket;
    this.broker = broker;
    this.#output = new SocketOutput(socket, () => {});
    socket.callback = guard(
      "mqtt",
      (message, value) => this.#onSocket(message, value ?? 0),
      () => this.#lose("the session failed"),
    );
  }

  get isUp(): boolean {
    return this.#up && !this.#closed;
  }

  send(bytes: Uint8Array): void {
    if (!this.#closed) this.#output.send(bytes);
  }

  subscribe(packetId: number, filters: readonly string[], qos: MqttQos): void {
    this.#subscribing.set(packetId, { filters, qos });
    this.send(encodeSubscribe(packetId, filters, qos));
  }

  #onSocket(message: number, value: number): void {
    if (this.#closed) return;
    if (message === SocketMessage.CONNECTED) {
      this.send(encodeConnect(this.#session.connectOptions));
      this.#schedule(CONNACK_MS, () => this.#lose(`no CONNACK from ${this.broker}`));
    } else if (message === SocketMessage.READABLE) {
      if (value > 0) this.#reader.push(new Uint8Array(this.#socket.read(ArrayBuffer)));
      this.#read();
    } else if (message === SocketMessage.WRITABLE) {
      this.#output.flush();
    } else if (message === SocketMessage.DISCONNECTED) {
      this.#lose(this.#up ? `lost ${this.broker}` : `${this.broker} closed the connection`);
    } else if (message === SocketMessage.ERROR) {
      this.#lose(this.#up ? `lost ${this.broker}` : `cannot connect to ${this.broker}`);
    }
  }

  #read(): void {
    for (let event = this.#reader.next(); event && !this.#closed; event = this.#reader.next()) {
      if (event.kind === "error") return this.#lose(`${this.broker}: ${event.reason}`);
      this.#pinged = false;
      if (event.kind === "oversize") {
        log.warn("mqtt", `dropped a message of ${event.length} bytes: more than ${MAX_PACKET}`);
        if (event.packetId !== undefined) this.send(encodePuback(event.packetId));
      } else this.#packet(event.packet);
    }
  }

  #packet(packet: MqttPacket): void {
    switch (packet.type) {
      case MqttType.CONNACK:
        if (this.#up) return this.#lose(`${this.broker}: a second CONNACK`);
        if (packet.returnCode !== 0) {
          return this.#lose(`${this.broker} refused the connection: ${CONNACK_REASONS[packet.returnCode] ?? `code ${packet.returnCode}`}`);
        }
        this.#up = true;
        this.#keepAlive();
        this.#session.up(this);
        return;
      case MqttType.PUBLISH:
        if (packet.qos > 1) return this.#lose(`${this.broker}: a QoS ${packet.qos} message, though none was asked for`);
        if (packet.qos === 1) this.send(encodePuback(packet.packetId));
        try {
          this.#session.message(String.fromArrayBuffer(packet.topic.slice().buffer), String.fromArrayBuffer(packet.payload.slice().buffer));
        } catch (e) {
          log.warn("mqtt", `dropped a message: ${errorText(e)}`);
        }
        return;
      case MqttType.PUBACK:
        this.#session.acknowledged(packet.packetId);
        return;
      case MqttType.SUBACK: {
        // The log line says when the board can be called over MQTT.
        const asked = this.#subscribing.get(packet.packetId);
        this.#subscribing.delete(packet.packetId);
        if (!asked) return;
        const refused = asked.filters.filter((_, i) => packet.granted[i] === 0x80);
        if (refused.length > 0) log.warn("mqtt", `${this.broker} refused the subscription to ${refused.join(", ")}`);
        else log.info("mqtt", `subscribed to ${asked.filters.join(", ")} (QoS ${packet.granted.join(", ")} granted, ${asked.qos} asked)`);
        return;
      }
      case MqttType.PINGRESP:
        return;
    }
  }

  /** Every keep-alive interval: a PINGREQ, unless the last one is still unanswered. */
  #keepAlive(): void {
    const ms = this.#session.connectOptions.keepAliveS * 1000;
    if (ms === 0) return this.#schedule(undefined);
    this.#schedule(ms, () => {
      if (this.#pinged) return this.#lose(`${this.broker} did not answer for ${ms / 1000} s`);
      this.#pinged = true;
      this.send(encodePingreq());
      this.#keepAlive();
    });
  }

  #schedule(ms: number | undefined, callback?: () => void): void {
    if (this.#timer !== undefined) Timer.clear(this.#timer);
    this.#timer = ms === undefined ? undefined : Timer.set(guard("mqtt", () => ((this.#timer = undefined), callback!())), ms);
  }

  #lose(why: string): void {
    if (this.#closed) return;
    this.#schedule(undefined);
    this.#closed = true;
    this.#output.clear();
    try {
      this.#socket.close();
    } catch {
      // Already closed by the network stack.
    }
    this.#session.lost(this, why, this.#up);
  }
}

/** "host" or "host:port" (default 1883); a reason string when unusable. */
function parseServer(server: string): { readonly host: string; readonly port: number } | string {
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(server.trim());
  const port = m?.[2] === undefined ? 1883 : Number(m[2]);
  if (!m || port < 1 || port > 65535) return `mqttServer "${server}" is not host or host:port; MQTT stays off`;
  return { host: m[1]!, port };
}
