// The ports: what a board provides to the firmware. Each is imported by a
// bare specifier that manifest.json maps per platform (ESP32 adapters in
// modules/esp32/, virtual-board adapters in modules/vboard/); the adapters
// implement these types.

import type { HttpRequestIn, HttpResponseOut } from "rpc/http-mapping";

export type HttpResponder = (response: HttpResponseOut) => void;

/** Receives every HTTP request the board's server gets; `peer` is "ip:port". */
export type HttpRequestHandler = (request: HttpRequestIn, respond: HttpResponder, peer: string) => void;

/** "board/http-server": start the board's HTTP server. */
export type ServeHttp = (handler: HttpRequestHandler) => void;

export interface AppDescription {
  /** esp_app_desc_t.version: the firmware version. */
  readonly version: string;
  readonly projectName: string;
  /** Build date and time as the app descriptor holds them ("Nov 27 2026", "09:53:00"). */
  readonly date: string;
  readonly time: string;
  readonly idfVersion: string;
  /** Hex SHA-256 of the app ELF (of the module archive on the virtual board). */
  readonly elfSha256: string;
}

export interface HeapStats {
  /** Bytes the XS heap may grow to (slots and chunks). */
  readonly size: number;
  /** Bytes in use now. */
  readonly used: number;
  /** Most bytes ever in use since boot. */
  readonly peak: number;
}
