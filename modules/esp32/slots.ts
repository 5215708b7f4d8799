// "board/slots": the app slots over the native module (xsota_native.c).

import type { DigestChoice, SlotInfo, SlotsPort, WrittenDigests } from "platform/ports";

export default class Slots implements SlotsPort {
  count(): number {
    return native("xs_ota_slot_count").call(this) as number;
  }
  running(): number {
    return native("xs_ota_running_slot").call(this) as number;
  }
  boot(): number {
    return native("xs_ota_boot_slot").call(this) as number;
  }
  info(slot: number): SlotInfo {
    return native("xs_ota_slot_info").call(this, slot) as SlotInfo;
  }
  imageLength(slot: number): number {
    return native("xs_ota_image_length").call(this, slot) as number;
  }
  begin(slot: number, size: number, digests: DigestChoice = {}): number {
    return native("xs_ota_begin").call(this, slot, size, digests.sha1 === true, digests.sha256 === true) as number;
  }
  write(handle: number, bytes: ArrayBuffer | ArrayBufferView): void {
    native("xs_ota_write").call(this, handle, bytes);
  }
  end(handle: number): WrittenDigests {
    return native("xs_ota_end").call(this, handle) as WrittenDigests;
  }
  abort(handle: number): void {
    native("xs_ota_abort").call(this, handle);
  }
  setBoot(slot: number): void {
    native("xs_ota_set_boot_slot").call(this, slot);
  }
  markValid(): void {
    native("xs_ota_mark_valid").call(this);
  }
  markInvalidAndReboot(): void {
    native("xs_ota_mark_invalid_and_reboot").call(this);
  }
  read(slot: number, offset: number, length: number): ArrayBuffer {
    return native("xs_ota_read").call(this, slot, offset, length) as ArrayBuffer;
  }
  digest(slot: number, offset: number, length: number, algorithm: "sha1" | "sha256"): string {
    return native("xs_ota_digest").call(this, slot, offset, length, algorithm) as string;
  }
  digests(slot: number, offset: number, length: number): { readonly sha1: string; readonly sha256: string } {
    return native("xs_ota_digests").call(this, slot, offset, length) as { sha1: string; sha256: string };
  }
  crc32(bytes: Uint8Array, seed: number): number {
    return native("xs_ota_crc32").call(this, bytes, seed) as number;
  }
  imageChecksum(bytes: Uint8Array, seed: number): number {
    return native("xs_ota_image_checksum").call(this, bytes, seed) as number;
  }
  armRollbackTimer(ms: number): void {
    native("xs_ota_rollback_timer_arm").call(this, ms);
  }
  disarmRollbackTimer(): void {
    native("xs_ota_rollback_timer_disarm").call(this);
  }
}
