// The saved configuration in NVS: what differs from the defaults, as one
// record written whole, so a power cut leaves either the old or the new
// configuration, never a mix (NVS writes a record atomically). A second
// record holds a configuration saved with try_once, used for one boot only.
//
// The record is JSON in ASCII (anything else as \u escapes): readable in a
// flash dump, one byte per character, and versioned; one that does not
// parse is reported, not trusted.

import type { RecordStore } from "platform/ports";
import { asciiJson } from "sys/utf8";

export type ConfigRecordKind = "saved" | "trial";

/** NVS keys (at most 15 characters). */
const KEYS: Record<ConfigRecordKind, string> = { saved: "config", trial: "config.try" };

/** One NVS page holds a record whole on every ESP-IDF release and on the virtual board. */
export const MAX_CONFIG_RECORD = 4000;

export type ConfigRecord = { readonly diff: unknown } | { readonly problem: string } | undefined;

/** The diff a record holds, a problem with it, or undefined when there is none. */
export function readConfigRecord(store: RecordStore, kind: ConfigRecordKind): ConfigRecord {
  const bytes = store.get(KEYS[kind]);
  if (!bytes) return undefined;
  const u8 = new Uint8Array(bytes);
  let text = "";
  // In slices: a few thousand arguments to one call could overflow a device's XS stack.
  for (let i = 0; i < u8.length; i += 256) text += String.fromCharCode.apply(null, Array.from(u8.subarray(i, i + 256)));
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: `the ${kind} config record is not valid JSON` };
  }
  const record = v as { v?: unknown; config?: unknown };
  if (typeof v !== "object" || v === null || record.v !== 1) return { problem: `the ${kind} config record has an unknown format` };
  return { diff: record.config ?? {} };
}

/** Write a record whole; throws when it would not fit. */
export function writeConfigRecord(store: RecordStore, kind: ConfigRecordKind, diff: unknown): void {
  const text = asciiJson(JSON.stringify({ v: 1, config: diff ?? {} }));
  if (text.length > MAX_CONFIG_RECORD) throw new Error(`config too large (${text.length} bytes, at most ${MAX_CONFIG_RECORD})`);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  store.set(KEYS[kind], bytes.buffer);
}

export function eraseConfigRecord(store: RecordStore, kind: ConfigRecordKind): void {
  store.erase(KEYS[kind]);
}
