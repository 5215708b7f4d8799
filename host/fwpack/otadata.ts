// The otadata partition: two 4 KB sectors, each holding one 32-byte
// esp_ota_select_entry_t at its start, the rest 0xFF. The crc covers ota_seq
// only: esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4), which is zlib's
// crc32(le32(seq), 0xFFFFFFFF).

import { crc32 } from "rpc/crc32";
import { OtadataError, hex } from "./errors.js";

export const OTADATA_SECTOR_SIZE = 0x1000;
export const OTADATA_SIZE = 2 * OTADATA_SECTOR_SIZE;
export const OTA_SELECT_ENTRY_SIZE = 32;
export const OTA_SEQ_LABEL_SIZE = 20;
/** ota_seq of an erased entry. */
export const OTA_SEQ_ERASED = 0xffffffff;

export const OtaImageState = {
  NEW: 0x0,
  PENDING_VERIFY: 0x1,
  VALID: 0x2,
  INVALID: 0x3,
  ABORTED: 0x4,
  UNDEFINED: 0xffffffff,
} as const;
export type OtaImageState = (typeof OtaImageState)[keyof typeof OtaImageState];

export function otaStateName(state: number): string {
  for (const [name, value] of Object.entries(OtaImageState)) if (value === state) return name;
  return `unknown state ${hex(state)}`;
}

export interface OtaSelectEntry {
  seq: number;
  state: number;
  /** 20 bytes, unused by IDF; 0xFF as the bootloader writes it when omitted. */
  seqLabel?: Uint8Array;
  /** Defaults to the correct crc; give another value to build a corrupt entry. */
  crc?: number;
}

export interface DecodedOtaSelectEntry {
  seq: number;
  seqLabel: Buffer;
  state: number;
  crc: number;
  crcOk: boolean;
  /** bootloader_common_ota_select_valid(): not erased, not INVALID/ABORTED, crc good. */
  valid: boolean;
}

function checkU32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new OtadataError(`${field} ${value} is not a u32`);
}

/** bootloader_common_ota_select_crc(). */
export function otaSeqCrc(seq: number): number {
  checkU32(seq, "ota_seq");
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(seq);
  return crc32(bytes, 0xffffffff);
}

export function encodeOtaSelectEntry(entry: OtaSelectEntry): Buffer {
  checkU32(entry.seq, "ota_seq");
  checkU32(entry.state, "ota_state");
  const out = Buffer.alloc(OTA_SELECT_ENTRY_SIZE, 0xff);
  out.writeUInt32LE(entry.seq, 0);
  if (entry.seqLabel) {
    if (entry.seqLabel.length !== OTA_SEQ_LABEL_SIZE) {
      throw new OtadataError(`seq_label is ${entry.seqLabel.length} bytes, must be ${OTA_SEQ_LABEL_SIZE}`);
    }
    out.set(entry.seqLabel, 4);
  }
  out.writeUInt32LE(entry.state, 24);
  const crc = entry.crc ?? otaSeqCrc(entry.seq);
  checkU32(crc, "crc");
  out.writeUInt32LE(crc, 28);
  return out;
}

export function decodeOtaSelectEntry(bytes: Uint8Array): DecodedOtaSelectEntry {
  if (bytes.length < OTA_SELECT_ENTRY_SIZE) {
    throw new OtadataError(`otadata entry truncated: ${bytes.length} bytes, need ${OTA_SELECT_ENTRY_SIZE}`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, OTA_SELECT_ENTRY_SIZE);
  const seq = b.readUInt32LE(0);
  const state = b.readUInt32LE(24);
  const crc = b.readUInt32LE(28);
  const crcOk = crc === otaSeqCrc(seq);
  const invalid = seq === OTA_SEQ_ERASED || state === OtaImageState.INVALID || state === OtaImageState.ABORTED;
  return { seq, seqLabel: Buffer.from(b.subarray(4, 24)), state, crc, crcOk, valid: !invalid && crcOk };
}

/** The 0x2000-byte partition; a null entry leaves its sector erased. */
export function encodeOtadata(entries: readonly [OtaSelectEntry | null, OtaSelectEntry | null]): Buffer {
  const out = Buffer.alloc(OTADATA_SIZE, 0xff);
  entries.forEach((entry, sector) => {
    if (entry) encodeOtaSelectEntry(entry).copy(out, sector * OTADATA_SECTOR_SIZE);
  });
  return out;
}

/**
 * An erased otadata, as a factory flash ships it. With no factory partition
 * the bootloader then boots ota_0 (the "initial contents" case) and, once
 * that image has loaded, writes sector 0 = {seq 1, VALID} (set_actual_ota_seq).
 * With a factory partition it boots factory and writes nothing.
 */
export function blankOtadata(): Buffer {
  return Buffer.alloc(OTADATA_SIZE, 0xff);
}

/** Otadata as the bootloader leaves it after a first boot of `slot` from blank otadata. */
export function otadataBootingSlot(slot: number, state: number = OtaImageState.VALID): Buffer {
  if (!Number.isInteger(slot) || slot < 0 || slot > 15) throw new OtadataError(`OTA slot ${slot} is not in 0..15`);
  return encodeOtadata([{ seq: slot + 1, state }, null]);
}

export interface DecodedOtadata {
  entries: [DecodedOtaSelectEntry, DecodedOtaSelectEntry];
  /** Index of the active entry (highest valid seq; entry 0 on a tie), or -1. */
  active: -1 | 0 | 1;
}

export function decodeOtadata(bytes: Uint8Array): DecodedOtadata {
  if (bytes.length < OTADATA_SIZE) {
    throw new OtadataError(`otadata truncated: ${hex(bytes.length)} bytes, need ${hex(OTADATA_SIZE)} (two sectors)`);
  }
  const entries: [DecodedOtaSelectEntry, DecodedOtaSelectEntry] = [
    decodeOtaSelectEntry(bytes.subarray(0, OTA_SELECT_ENTRY_SIZE)),
    decodeOtaSelectEntry(bytes.subarray(OTADATA_SECTOR_SIZE, OTADATA_SECTOR_SIZE + OTA_SELECT_ENTRY_SIZE)),
  ];
  return { entries, active: selectActiveEntry(entries) };
}

/** bootloader_common_get_active_otadata(). */
export function selectActiveEntry(entries: readonly [{ seq: number; valid: boolean }, { seq: number; valid: boolean }]): -1 | 0 | 1 {
  const [a, b] = entries;
  if (a.valid && b.valid) return a.seq >= b.seq ? 0 : 1;
  if (a.valid) return 0;
  if (b.valid) return 1;
  return -1;
}

/** The OTA slot an entry selects: (seq - 1) % count. */
export function otaSlotForSeq(seq: number, otaSlotCount: number): number {
  if (!Number.isInteger(otaSlotCount) || otaSlotCount < 1) throw new OtadataError(`OTA slot count ${otaSlotCount} must be at least 1`);
  if (!Number.isInteger(seq) || seq < 1 || seq >= OTA_SEQ_ERASED) throw new OtadataError(`ota_seq ${seq} does not select a slot`);
  return (seq - 1) % otaSlotCount;
}
