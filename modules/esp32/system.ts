// "board/system": the running system, over the native module (xsota_native.c).

import type { AppDescription, HeapStats } from "platform/ports";

export default class System {
  static restart(): void {
    return native("xs_ota_restart").call(this) as void;
  }
  /** Microseconds since boot (esp_timer_get_time). */
  static uptimeUs(): number {
    return native("xs_ota_uptime_us").call(this) as number;
  }
  /** Station MAC, 12 upper-case hex digits. */
  static mac(): string {
    return native("xs_ota_mac").call(this) as string;
  }
  static appDescription(): AppDescription {
    return native("xs_ota_app_description").call(this) as AppDescription;
  }
  /** Bytes of a base64 text (standard or URL-safe), decoded natively. */
  static decodeBase64(text: string): Uint8Array {
    return new Uint8Array(System.#base64Bytes(text));
  }
  // Only a bare `return native(...).call(this, ...args)` is bound at build time
  // (xsc: "cannot optimize native" otherwise): the wrapping stays outside.
  static #base64Bytes(text: string): ArrayBuffer {
    return native("xs_ota_base64_decode").call(this, text) as ArrayBuffer;
  }
  /** Whether `name` is already an XS key (creates none; see xs_ota_is_name). */
  static isName(name: string): boolean {
    return native("xs_ota_is_name").call(this, name) as boolean;
  }
  static heap(): HeapStats {
    return native("xs_ota_heap").call(this) as HeapStats;
  }
}
