// NVS for unit tests: records in a map, and writes that fail on demand.

import type { RecordStore } from "platform/ports";

/** NVS as a map; `failWrites` makes the next writes throw as a full or broken NVS would. */
export class MemoryRecords implements RecordStore {
  readonly records = new Map<string, Uint8Array>();
  failWrites = false;
  get(key: string): ArrayBuffer | undefined {
    const r = this.records.get(key);
    return r && r.slice().buffer;
  }
  set(key: string, bytes: ArrayBuffer): void {
    if (this.failWrites) throw new Error("nvs_set_blob: ESP_ERR_NVS_NOT_ENOUGH_SPACE (0x1105)");
    this.records.set(key, new Uint8Array(bytes.slice(0)));
  }
  erase(key: string): void {
    this.records.delete(key);
  }
  text(key: string): string | undefined {
    const r = this.records.get(key);
    return r && Buffer.from(r).toString("latin1");
  }
}
