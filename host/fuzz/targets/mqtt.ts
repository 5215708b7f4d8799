// RPC over MQTT through a real broker (mosquitto, test/mosquitto.ts): the
// board is subscribed to `<id>/rpc` and `<id>/rpc/#`; the fuzzer publishes
// there (and next to there) with the mqtt package: generated frames with
// every kind of `src` (the board publishes its reply to `<src>/rpc`, so a
// src with wildcards, NUL, lone surrogates or the board's own topics is a
// test of what it publishes), the topic form `<id>/rpc/<Method>`, payloads
// that are not JSON, not UTF-8, empty, at and over the 16 KB packet limit,
// QoS 0, 1 and 2, retained messages (cleared after the case), then
// byte-level mutation of the payloads.
//
// The fuzzer watches every topic: after each case a clean RPC.Ping must be
// answered within a second; the oracle checks the broker goes quiet (no
// reply loop) and that the board kept its session (a board the broker
// disconnects, for publishing to an invalid topic, is a finding).

import mqtt, { type MqttClient } from "mqtt";
import { MqttTransport } from "../../client/mqtt-transport.ts";
import { RpcClient } from "../../client/rpc-client.ts";
import { within, type FuzzBoard } from "../board.ts";
import { generateFrame, heavyJson, jsonString, randomArgs } from "../json-gen.ts";
import { mutateSafely } from "../mutate.ts";
import { mentionsGuarded } from "../policy.ts";
import type { Rng } from "../prng.ts";
import { b64, type CaseResult, type FuzzTarget, type GenContext, unb64, withDeviceId } from "../target.ts";

export interface MqttPublish {
  readonly topic: string;
  readonly b64: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface MqttPayload {
  readonly publishes: readonly MqttPublish[];
}

const MARKER_BASE = 700_000_000;
const MARKER_SRC = "fuzz-marker";

export class MqttTarget implements FuzzTarget<MqttPayload> {
  readonly name = "mqtt" as const;
  readonly batchSize = 80;
  #board!: FuzzBoard;
  #client: MqttClient | undefined;
  #marker = 0;
  #waiters = new Map<string, () => void>();
  /** Messages seen on any topic, for the storm check. */
  #seen = 0;
  /** The board's console offset when the session was last known good. */
  #consoleMark = 0;

  async setup(board: FuzzBoard): Promise<void> {
    this.#board = board;
    await this.#connect();
    this.#consoleMark = board.log.end;
  }

  async #connect(): Promise<void> {
    const client = mqtt.connect(this.#board.mqttUrl!, { clientId: `fuzz-${process.pid}`, clean: true, reconnectPeriod: 500, protocolVersion: 4 });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    (client.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    client.on("message", (topic, payload) => {
      this.#seen++;
      if (topic !== `${MARKER_SRC}/rpc`) return;
      const id = /"id":(\d+)/.exec(payload.toString("latin1"))?.[1];
      if (id) this.#waiters.get(id)?.();
    });
    await new Promise<void>((resolve, reject) => client.subscribe("#", { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    this.#client = client;
  }

  async reconnect(): Promise<void> {
    // The broker and the fuzzer's session outlive the board; only the board's session is new.
    this.#consoleMark = this.#board.log.end;
  }

  #topic(rng: Rng, ctx: GenContext): string {
    const id = ctx.deviceId;
    return rng.weighted([
      [60, `${id}/rpc`],
      [20, `${id}/rpc/${rng.pick(ctx.frames.safe)?.name ?? "RPC.Ping"}`],
      [3, `${id}/rpc/`],
      [3, `${id}/rpc/${rng.pick(["x", "RPC.Ping/extra", "a/b/c", "\u00e9", "x".repeat(200), " ", "RPC.Ping "])}`],
      [3, `${id}/rpcx`],
      [2, `${id}/RPC`],
      [2, `esp32_000000/rpc`],
      [2, `${id.toLowerCase()}/rpc`],
      [2, `/${id}/rpc`],
      [3, `${id}/rpc-resp/x/rpc`],
    ]);
  }

  /** A frame whose src is one of the odd ones: what the board turns into its reply topic. */
  #src(rng: Rng, ctx: GenContext): string | undefined {
    return rng.weighted<string | undefined>([
      [50, JSON.stringify(`${ctx.deviceId}/rpc-resp/mos-${rng.int(1000)}`)],
      [10, JSON.stringify("fuzz")],
      [4, undefined],
      [3, '""'],
      [3, JSON.stringify(ctx.deviceId)],
      [3, JSON.stringify(`${ctx.deviceId}/rpc`)],
      [2, JSON.stringify(`${ctx.deviceId}/rpc/RPC.Ping`)],
      [3, JSON.stringify(rng.pick(["a/#", "+", "#", "a/+/b", "$SYS/x", "/", "//"]))],
      [2, '"a\\u0000b"'],
      [2, '"\\ud800"'],
      [2, JSON.stringify("s".repeat(128))],
      [3, jsonString(rng, 30)],
      [2, rng.pick(["1", "null", "{}", "[]", "true"])],
    ]);
  }

  generate(rng: Rng, ctx: GenContext): { generator: string; payload: MqttPayload } {
    const n = rng.weighted([[8, 1], [2, rng.range(2, 5)]]);
    const publishes: MqttPublish[] = [];
    const what: string[] = [];
    for (let i = 0; i < n; i++) {
      const topic = this.#topic(rng, ctx);
      const kind = rng.weighted([[45, "frame"], [20, "mutated"], [6, "args"], [8, "noise"], [6, "size"], [5, "heavy"], [5, "empty"], [5, "guarded"]] as const);
      let payload: Buffer;
      let t = topic;
      switch (kind) {
        case "frame": {
          const f = generateFrame(rng, { ...ctx.frames, guarded: [] });
          const src = this.#src(rng, ctx);
          // Put our src in: generateFrame's own may be absent or odd already.
          payload = Buffer.from(src === undefined ? f.text : f.text.replace(/^\{/, `{"src":${src},`));
          break;
        }
        case "mutated": {
          const f = generateFrame(rng, { ...ctx.frames, guarded: [] });
          const base = Buffer.from(f.text.replace(/^\{/, `{"src":${this.#src(rng, ctx) ?? '"m"'},`));
          payload = mutateSafely(rng, base)?.bytes ?? base;
          break;
        }
        case "args":
          payload = Buffer.from(rng.chance(0.5) ? `{"src":"fuzz","id":${rng.range(1, 1e6)},"params":${randomArgs(rng, rng.pick(ctx.frames.safe))}}` : randomArgs(rng, rng.pick(ctx.frames.safe)));
          break;
        case "noise":
          payload = rng.chance(0.5) ? rng.bytes(rng.length(2000)) : Buffer.concat([Buffer.from('{"id":1,"src":"n","method":"RPC.Ping","x":"'), Buffer.from([0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80, 0x00]), Buffer.from('"}')]);
          if (mentionsGuarded(payload)) payload = Buffer.from("noise");
          break;
        case "size": {
          const size = rng.pick([16383, 16384, 16385, 16400, 20000, 65536, 300_000]);
          payload = Buffer.from(`{"id":2,"src":"big","method":"RPC.Ping","params":{"p":"${"q".repeat(Math.max(0, size - 70))}"}}`);
          break;
        }
        case "heavy":
          payload = Buffer.from(`{"id":3,"src":"heavy","method":"RPC.Ping","params":${heavyJson(rng)}}`);
          break;
        case "empty":
          payload = Buffer.alloc(0);
          break;
        default: {
          // A guarded call with its poison, on the plain topic only (the topic form would replace its method).
          const call = generateFrame(rng, { ...ctx.frames, safe: [] });
          payload = Buffer.from(call.guarded ? call.text : `{"id":4,"src":"g","method":"RPC.Ping"}`);
          t = `${ctx.deviceId}/rpc`;
        }
      }
      // The topic form replaces the frame's method: a guarded name there, or any mutation that made one, is never sent.
      if (kind !== "guarded" && mentionsGuarded(payload)) payload = Buffer.from(`{"id":5,"src":"fuzz","method":"RPC.Ping"}`);
      publishes.push({ topic: t, b64: b64(payload), qos: rng.weighted<0 | 1 | 2>([[3, 1], [2, 0], [1, 2]]), retain: rng.chance(0.05) });
      what.push(`${kind}@${t.slice(ctx.deviceId.length)}`);
    }
    return { generator: what.join(","), payload: { publishes } };
  }

  #publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean): Promise<void> {
    return new Promise((resolve) => this.#client!.publish(topic, payload, { qos, retain }, () => resolve()));
  }

  #answered(id: number, ms: number): Promise<boolean> {
    const key = String(id);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => (this.#waiters.delete(key), resolve(false)), ms);
      this.#waiters.set(key, () => (clearTimeout(timer), this.#waiters.delete(key), resolve(true)));
    });
  }

  async execute(payload: MqttPayload): Promise<CaseResult> {
    const id = this.#board.deviceId;
    const topic = (t: string) => withDeviceId(Buffer.from(t, "utf8"), id).toString("utf8");
    for (const p of payload.publishes) await within(this.#publish(topic(p.topic), withDeviceId(unb64(p.b64), id), p.qos, p.retain), 5000, "publish to the broker");
    // A retained message would be delivered again at every (re)subscription of the board: clear it.
    for (const p of payload.publishes) if (p.retain) await this.#publish(topic(p.topic), Buffer.alloc(0), 1, true);
    const marker = MARKER_BASE + ++this.#marker;
    const answered = this.#answered(marker, 500);
    await this.#publish(`${id}/rpc`, Buffer.from(`{"id":${marker},"src":"${MARKER_SRC}","method":"RPC.Ping"}`), 1, false);
    if (await answered) return {};
    // Lost because the broker dropped the board? Then that is the finding, without waiting for the probe.
    await new Promise((r) => setTimeout(r, 100));
    const lost = this.lostSession();
    if (lost) return { note: lost, counts: { markerLost: 1 }, fault: { kind: "disconnect", detail: lost } };
    return { note: "the RPC.Ping after the case got no answer within 0.5 s", suspect: true, counts: { markerLost: 1 } };
  }

  /** As xs-ota calls over MQTT (mos's addressing), from a client of its own. */
  async probe(): Promise<void> {
    const rpc = new RpcClient(new MqttTransport(new URL(`${this.#board.mqttUrl}/${this.#board.deviceId}`)), { timeoutMs: 4500 });
    try {
      await rpc.call("RPC.Ping");
    } finally {
      await rpc.close().catch(() => undefined);
    }
  }

  statusOk(state: number): boolean {
    return state === 0;
  }

  async storm(): Promise<string | undefined> {
    const s0 = this.#seen;
    await new Promise((r) => setTimeout(r, 100));
    if (this.#seen - s0 < 20) return undefined;
    const s1 = this.#seen;
    await new Promise((r) => setTimeout(r, 1000));
    const more = this.#seen - s1;
    return more > 100 ? `the broker went on carrying messages: ${more} in 1 s after the cases were answered` : undefined;
  }

  lostSession(): string | undefined {
    const log = this.#board.log.since(this.#consoleMark);
    this.#consoleMark = this.#board.log.end;
    const lost = /.*lost the broker.*|.*mqtt:.*(closed|trying again).*/.exec(log);
    return lost ? `the board lost its MQTT session: ${lost[0].trim()}` : undefined;
  }

  async teardown(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (c) await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}
