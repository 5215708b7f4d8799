// The one NVS record for what ESP-IDF's otadata cannot say: which slot is on
// trial (booted uncommitted), where to go back to, and the commit timeout.
// Kept as a tiny JSON blob: readable in a flash dump, versioned, and
// refused rather than trusted when it does not parse.

import type { RecordStore } from "platform/ports";

export interface BootRecord {
  /** The slot that must be committed, if one is on trial. */
  readonly trial?: number;
  /** The slot to go back to (Mongoose's revert_slot). */
  readonly revert?: number;
  /** Seconds the trial slot has to be committed (0: commit at once). */
  readonly commitTimeout: number;
}

const KEY = "boot";
const EMPTY: BootRecord = { commitTimeout: 0 };

export function readBootRecord(store: RecordStore): BootRecord {
  const bytes = store.get(KEY);
  if (!bytes) return EMPTY;
  try {
    const v = JSON.parse(String.fromCharCode.apply(null, new Uint8Array(bytes) as unknown as number[])) as Record<string, unknown>;
    if (v.v !== 1) return EMPTY;
    return {
      trial: typeof v.trial === "number" ? v.trial : undefined,
      revert: typeof v.revert === "number" ? v.revert : undefined,
      commitTimeout: typeof v.timeout === "number" ? v.timeout : 0,
    };
  } catch {
    return EMPTY;
  }
}

export function writeBootRecord(store: RecordStore, record: BootRecord): void {
  const text = JSON.stringify({ v: 1, trial: record.trial, revert: record.revert, timeout: record.commitTimeout });
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  store.set(KEY, bytes.buffer);
}
