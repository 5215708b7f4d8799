// "board/records": small blobs in NVS (namespace "xsota"), over the native module.

import type { RecordStore } from "platform/ports";

export default class Records implements RecordStore {
  get(key: string): ArrayBuffer | undefined {
    return native("xs_ota_nvs_get").call(this, key) as ArrayBuffer | undefined;
  }
  set(key: string, bytes: ArrayBuffer): void {
    native("xs_ota_nvs_set").call(this, key, bytes);
  }
  erase(key: string): void {
    native("xs_ota_nvs_erase").call(this, key);
  }
}
