// What the engine needs from a transport: generate a case from its random
// stream, deliver it through the real transport (bounded in time), and prove
// the channel still answers a clean call.

import type { FuzzBoard } from "./board.ts";
import type { FrameContext, MethodInfo } from "./json-gen.ts";
import type { Rng } from "./prng.ts";

export const TRANSPORTS = ["uart", "http", "ws", "mqtt", "ota-update", "ota-push"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** One case, everything needed to deliver it again: the data a regression file holds. */
export interface CaseRecord<P = unknown> {
  readonly transport: TransportName;
  readonly seed: number;
  readonly index: number;
  /** The generator (and mutations) that made it. */
  readonly generator: string;
  readonly payload: P;
}

/** What delivering a case showed, besides the oracle's verdict. */
export interface CaseResult {
  /** Short description of what came back (for reports). */
  readonly note?: string;
  /** A package was accepted (the update applied): the board must be made fresh before the next case. */
  readonly applied?: boolean;
  /** The case itself found a fault the oracle cannot see (an invalid package accepted, an update left running). */
  readonly fault?: { readonly kind: FindingKind; readonly detail: string };
  /** The transport did not answer its per-case check: end the batch and let the oracle look now. */
  readonly suspect?: boolean;
  /** Counters to add to the transport's figures (accepted, refused, ...). */
  readonly counts?: Readonly<Record<string, number>>;
}

export type FindingKind = "crash" | "reset" | "hang" | "stateChange" | "storm" | "disconnect" | "injection";

export interface GenContext {
  readonly deviceId: string;
  readonly methods: readonly MethodInfo[];
  readonly frames: FrameContext;
  readonly httpPort: number;
}

export interface FuzzTarget<P = unknown> {
  readonly name: TransportName;
  /** Cases between two oracle checks. */
  readonly batchSize: number;
  /** Open what the transport needs (ports, clients); called once per board. */
  setup(board: FuzzBoard, ctx: GenContext): Promise<void>;
  /** The case of this random stream. Deterministic: same stream, same case. */
  generate(rng: Rng, ctx: GenContext): { generator: string; payload: P };
  /** Deliver it; never waits unboundedly. */
  execute(payload: P): Promise<CaseResult>;
  /** A clean call through this transport (RPC.Ping); rejects when there is no answer. */
  probe(): Promise<void>;
  /** The board was made fresh: reconnect. */
  reconnect(): Promise<void>;
  /** OTA.Status states that are fine after a case (channel fuzzing: idle only). */
  statusOk(state: number): boolean;
  /** Evidence of traffic that does not stop (a reply loop): a description, or undefined when quiet. */
  storm?(): Promise<string | undefined>;
  /** Evidence that the board lost its session (MQTT): a description, or undefined. */
  lostSession?(): string | undefined;
  /** Evidence that the board wrote what it must not (UART: control bytes from the input in its console): a description, or undefined. */
  injection?(): string | undefined;
  teardown(): Promise<void>;
  /** Extra JSON-able facts for fuzz.json. */
  figures?(): Record<string, unknown>;
}

/**
 * The device id the generators write (frames' dst, MQTT topics): the real one
 * (derived from the board's MAC, which differs between boards) is put in
 * its place, byte for byte, when a case is delivered, so a case is the same
 * whichever board it was made for.
 */
export const DEVICE_ID_PLACEHOLDER = "esp32_DEF1D0";

/** `bytes` with the placeholder (either case) replaced by `deviceId` (same length: lengths in the case stay right). */
export function withDeviceId(bytes: Buffer, deviceId: string): Buffer {
  if (deviceId.length !== DEVICE_ID_PLACEHOLDER.length) return bytes;
  let out = bytes;
  for (const [from, to] of [[DEVICE_ID_PLACEHOLDER, deviceId], [DEVICE_ID_PLACEHOLDER.toLowerCase(), deviceId.toLowerCase()]] as const) {
    let at = out.indexOf(from, 0, "latin1");
    if (at < 0) continue;
    if (out === bytes) out = Buffer.from(bytes);
    for (; at >= 0; at = out.indexOf(from, at + to.length, "latin1")) out.write(to, at, "latin1");
  }
  return out;
}

/** Base64 helpers for payloads stored as JSON. */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
export const unb64 = (text: string): Buffer => Buffer.from(text, "base64");
