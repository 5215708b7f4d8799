// mgrpc over MQTT (spec/mos-rpc.md §2.5): the topics a device listens on, how
// a message becomes a frame, and where the reply goes. mos sets
// src = "<device id>/rpc-resp/<client id>", so reply topics contain slashes.

import { parseIncomingFrame, type Frame } from "rpc/frame";
import { codePointAt, unitsAt } from "sys/utf8";

/** Topic filters to subscribe to (both at QoS 1). */
export function mqttSubscriptions(deviceId: string): string[] {
  return [`${deviceId}/rpc`, `${deviceId}/rpc/#`];
}

/** A wildcard, NUL or another control character, or U+FDD0..U+FDEF, U+FFFE, U+FFFF. */
const NOT_IN_TOPIC_NAME = /[+#\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]/;

/**
 * Whether `text` may be a topic name (MQTT 3.1.1 §1.5.3, §4.7): mosquitto
 * drops the session of a client that publishes to one holding a wildcard, a
 * control character or a Unicode noncharacter. Those past the BMP (U+nFFFE,
 * U+nFFFF) are found by code point: XS 13.3's regular expressions see such a
 * character whole, XS 17's as a surrogate pair.
 */
export function isTopicName(text: string): boolean {
  if (NOT_IN_TOPIC_NAME.test(text)) return false;
  for (let i = 0; i < text.length; i += unitsAt(text, i)) {
    if ((codePointAt(text, i) & 0xfffe) === 0xfffe) return false;
  }
  return true;
}

export type MqttIncoming = { ok: true; frame: Frame } | { ok: false; reason: string };

/**
 * The frame carried by a message on one of our topics. On `<id>/rpc/<Method>`
 * the topic names the method. Frames without `src` cannot be answered and are
 * dropped, as rpc-mqtt does; so are messages with none of id, src or method.
 */
export function mqttIncoming(topic: string, payload: string, deviceId: string): MqttIncoming {
  const base = `${deviceId}/rpc`;
  let methodFromTopic: string | undefined;
  if (topic.startsWith(base + "/")) methodFromTopic = topic.slice(base.length + 1);
  else if (topic !== base) return { ok: false, reason: `not an RPC topic: ${topic}` };
  const parsed = parseIncomingFrame(payload);
  if (!parsed.ok) return parsed;
  const frame = parsed.frame;
  if (frame.id === undefined && frame.src === "" && frame.method === "" && methodFromTopic === undefined) {
    return { ok: false, reason: "not a frame: no id, src or method" };
  }
  if (frame.src === "") return { ok: false, reason: "frame without src" };
  // The reply goes to `<src>/rpc`: a src that makes no valid topic name would
  // have the broker close the session (and the QoS 1 reply sent again after
  // each reconnect), so such a frame gets no answer.
  if (!isTopicName(frame.src)) return { ok: false, reason: "src makes no MQTT topic (wildcards, control characters or noncharacters)" };
  return { ok: true, frame: methodFromTopic ? { ...frame, method: methodFromTopic } : frame };
}

/** Where the reply to a request from `src` is published; none without a src. */
export function mqttReplyTopic(src: string): string | undefined {
  return src === "" ? undefined : `${src}/rpc`;
}
