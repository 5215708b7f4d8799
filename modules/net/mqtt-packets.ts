// MQTT 3.1.1 packets (OASIS standard, section 3): what a client that
// subscribes and publishes at QoS 0 and 1 sends and reads. Pure: bytes in,
// packets out, so the same code runs on the ESP32, on the virtual board and
// under the host's tests. A packet longer than the reader's limit is never
// buffered: its bytes are counted past and it is reported as oversize.

import { encodeUtf8 } from "sys/utf8";

export const MqttType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** CONNACK return codes (3.2.2.3). */
export const CONNACK_REASONS: Readonly<Record<number, string>> = {
  1: "unacceptable protocol version",
  2: "identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

/** The largest Remaining Length the four-byte encoding can say (2.2.3). */
const MAX_REMAINING = 268_435_455;

export interface ConnectOptions {
  readonly clientId: string;
  readonly keepAliveS: number;
  readonly user?: string;
  readonly password?: string;
  readonly cleanSession: boolean;
}

export interface PublishOptions {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  /** Required for QoS 1. */
  readonly packetId?: number;
  /** A QoS 1 message sent again (3.3.1.1). */
  readonly dup?: boolean;
}

/** One packet as read; strings stay bytes (the caller decodes UTF-8 where it needs text). */
export type MqttPacket =
  | { readonly type: typeof MqttType.CONNACK; readonly sessionPresent: boolean; readonly returnCode: number }
  | { readonly type: typeof MqttType.PUBLISH; readonly qos: number; readonly dup: boolean; readonly retain: boolean; readonly topic: Uint8Array; readonly packetId: number; readonly payload: Uint8Array }
  | { readonly type: typeof MqttType.PUBACK; readonly packetId: number }
  | { readonly type: typeof MqttType.SUBACK; readonly packetId: number; readonly granted: readonly number[] }
  | { readonly type: typeof MqttType.PINGRESP };

export type MqttReadEvent =
  | { readonly kind: "packet"; readonly packet: MqttPacket }
  /**
   * A packet over the limit, skipped whole: its type and length, and the
   * packet id of a QoS 1 PUBLISH, which still needs its PUBACK (the broker
   * stops sending once its window of unacknowledged messages is full).
   */
  | { readonly kind: "oversize"; readonly type: number; readonly length: number; readonly packetId?: number }
  /** The stream is not MQTT any more: the connection must go. */
  | { readonly kind: "error"; readonly reason: string };

function u16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

function lengthPrefixed(bytes: Uint8Array): number[] {
  if (bytes.length > 0xffff) throw new RangeError(`MQTT string of ${bytes.length} bytes: at most 65535`);
  return [...u16(bytes.length), ...bytes];
}

function remainingLength(length: number): number[] {
  if (length > MAX_REMAINING) throw new RangeError(`MQTT packet of ${length} bytes: at most ${MAX_REMAINING}`);
  const out: number[] = [];
  do {
    let digit = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) digit |= 0x80;
    out.push(digit);
  } while (length > 0);
  return out;
}

function packet(first: number, body: readonly number[] | Uint8Array, tail?: Uint8Array): Uint8Array {
  const length = body.length + (tail?.length ?? 0);
  const head = [first, ...remainingLength(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  out.set(body, head.length);
  if (tail) out.set(tail, head.length + body.length);
  return out;
}

export function encodeConnect(options: ConnectOptions): Uint8Array {
  let flags = options.cleanSession ? 0x02 : 0;
  const payload = [...lengthPrefixed(encodeUtf8(options.clientId))];
  if (options.user !== undefined) {
    flags |= 0x80;
    payload.push(...lengthPrefixed(encodeUtf8(options.user)));
    if (options.password !== undefined) {
      flags |= 0x40;
      payload.push(...lengthPrefixed(encodeUtf8(options.password)));
    }
  }
  const variable = [...lengthPrefixed(encodeUtf8("MQTT")), 4, flags, ...u16(options.keepAliveS)];
  return packet(MqttType.CONNECT << 4, [...variable, ...payload]);
}

export function encodePublish(options: PublishOptions): Uint8Array {
  const first = (MqttType.PUBLISH << 4) | (options.dup ? 0x08 : 0) | (options.qos << 1);
  const head = [...lengthPrefixed(encodeUtf8(options.topic))];
  if (options.qos > 0) {
    if (options.packetId === undefined) throw new RangeError("a QoS 1 PUBLISH needs a packet id");
    head.push(...u16(options.packetId));
  }
  return packet(first, head, options.payload);
}

export function encodePuback(packetId: number): Uint8Array {
  return packet(MqttType.PUBACK << 4, u16(packetId));
}

export function encodeSubscribe(packetId: number, filters: readonly string[], qos: 0 | 1): Uint8Array {
  const body = [...u16(packetId)];
  for (const filter of filters) body.push(...lengthPrefixed(encodeUtf8(filter)), qos);
  return packet((MqttType.SUBSCRIBE << 4) | 0x02, body);
}

export function encodePingreq(): Uint8Array {
  return packet(MqttType.PINGREQ << 4, []);
}

export function encodeDisconnect(): Uint8Array {
  return packet(MqttType.DISCONNECT << 4, []);
}

/**
 * Reads packets from the bytes of one connection as they arrive. The fixed
 * header is read first; the body is buffered only when it is within
 * `maxPacket` bytes, else skipped as it arrives.
 */
export class MqttReader {
  readonly #maxPacket: number;
  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  /** Bytes still to skip of an oversize packet. */
  #skipping = 0;
  #failed = false;

  constructor(maxPacket: number) {
    this.#maxPacket = maxPacket;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length > 0) {
      this.#pending.push(bytes);
      this.#pendingLength += bytes.length;
    }
  }

  /** The next event, or undefined until more bytes arrive. */
  next(): MqttReadEvent | undefined {
    if (this.#failed) return undefined;
    this.#skip();
    if (this.#skipping > 0) return undefined;
    const header = this.#peekHeader();
    if (header === undefined) return undefined;
    if (typeof header === "string") return this.#fail(header);
    const { first, length, size } = header;
    if (length > this.#maxPacket) {
      const type = first >> 4;
      let packetId: number | undefined;
      if (type === MqttType.PUBLISH && ((first >> 1) & 3) > 0) {
        // The packet id follows the topic: wait for both, which the limit bounds.
        if (this.#pendingLength < size + 2) return undefined;
        const topicLength = (this.#byteAt(size)! << 8) | this.#byteAt(size + 1)!;
        if (topicLength + 4 > this.#maxPacket) return this.#fail(`a topic of ${topicLength} bytes`);
        if (this.#pendingLength < size + topicLength + 4) return undefined;
        packetId = (this.#byteAt(size + 2 + topicLength)! << 8) | this.#byteAt(size + 3 + topicLength)!;
      }
      this.#consume(size);
      this.#skipping = length;
      this.#skip();
      return packetId === undefined ? { kind: "oversize", type, length } : { kind: "oversize", type, length, packetId };
    }
    if (this.#pendingLength < size + length) return undefined;
    this.#consume(size);
    const body = this.#take(length);
    const decoded = decode(first, body);
    return typeof decoded === "string" ? this.#fail(decoded) : { kind: "packet", packet: decoded };
  }

  /** Drops what has arrived of an oversize packet. */
  #skip(): void {
    const n = Math.min(this.#skipping, this.#pendingLength);
    this.#consume(n);
    this.#skipping -= n;
  }

  #fail(reason: string): MqttReadEvent {
    this.#failed = true;
    this.#pending = [];
    this.#pendingLength = 0;
    return { kind: "error", reason };
  }

  /** The fixed header, once all of it has arrived; a string when it is malformed. */
  #peekHeader(): { first: number; length: number; size: number } | string | undefined {
    let length = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      const byte = this.#byteAt(i);
      if (byte === undefined) return undefined;
      length += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return { first: this.#byteAt(0)!, length, size: i + 1 };
      multiplier *= 128;
    }
    return "malformed Remaining Length";
  }

  #byteAt(index: number): number | undefined {
    for (const chunk of this.#pending) {
      if (index < chunk.length) return chunk[index];
      index -= chunk.length;
    }
    return undefined;
  }

  #consume(count: number): void {
    this.#pendingLength -= count;
    while (count > 0) {
      const head = this.#pending[0]!;
      if (head.length <= count) {
        count -= head.length;
        this.#pending.shift();
      } else {
        this.#pending[0] = head.subarray(count);
        count = 0;
      }
    }
  }

  #take(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let at = 0;
    while (at < count) {
      const head = this.#pending[0]!;
      const n = Math.min(head.length, count - at);
      out.set(head.subarray(0, n), at);
      at += n;
      this.#consume(n);
    }
    return out;
  }
}

function decode(first: number, body: Uint8Array): MqttPacket | string {
  const type = first >> 4;
  const flags = first & 0x0f;
  const u16At = (at: number) => (body[at]! << 8) | body[at + 1]!;
  switch (type) {
    case MqttType.CONNACK:
      if (body.length !== 2) return "CONNACK of the wrong length";
      return { type, sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! };
    case MqttType.PUBLISH: {
      const qos = (flags >> 1) & 3;
      if (qos > 2) return "PUBLISH with QoS 3";
      if (body.length < 2) return "PUBLISH without a topic";
      const topicLength = u16At(0);
      const idAt = 2 + topicLength;
      const payloadAt = qos > 0 ? idAt + 2 : idAt;
      if (payloadAt > body.length) return "PUBLISH shorter than its topic";
      return {
        type,
        qos,
        dup: (flags & 0x08) !== 0,
        retain: (flags & 0x01) !== 0,
        topic: body.subarray(2, idAt),
        packetId: qos > 0 ? u16At(idAt) : 0,
        payload: body.subarray(payloadAt),
      };
    }
    case MqttType.PUBACK:
      if (body.length !== 2) return "PUBACK of the wrong length";
      return { type, packetId: u16At(0) };
    case MqttType.SUBACK:
      if (body.length < 3) return "SUBACK without return codes";
      return { type, packetId: u16At(0), granted: Array.from(body.subarray(2)) };
    case MqttType.PINGRESP:
      if (body.length !== 0) return "PINGRESP with a body";
      return { type };
    default:
      return `unexpected packet type ${type} from the broker`;
  }
}
