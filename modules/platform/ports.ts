// The ports: what a board provides to the firmware. Each is imported by a
// bare specifier that manifest.json maps per platform (ESP32 adapters in
// modules/esp32/, virtual-board adapters in modules/vboard/); the adapters
// implement these types.

import type { HttpRequestIn, HttpResponseOut } from "rpc/http-mapping";
import type { OpenSerial } from "rpc/uart-channel";

export type HttpResponder = (response: HttpResponseOut) => void;

/** Receives every HTTP request the board's server gets; `peer` is "ip:port". */
export type HttpRequestHandler = (request: HttpRequestIn, respond: HttpResponder, peer: string) => void;

/** An HTTP request whose head has arrived and whose body has not. */
export type HttpRequestHead = Omit<HttpRequestIn, "body">;

/**
 * Decides from the head, before a body of `bodyLength` bytes is read: a
 * response refuses the request, undefined lets the body in.
 */
export type HttpAdmission = (head: HttpRequestHead, bodyLength: number, peer: string) => HttpResponseOut | undefined;

/** "board/http-server": start the board's HTTP server. */
export type ServeHttp = (handler: HttpRequestHandler, admit?: HttpAdmission) => void;

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

/** ESP-IDF's otadata states (esp_ota_img_states_t); -1 when a slot has no entry. */
export const OtaState = {
  NEW: 0,
  PENDING_VERIFY: 1,
  VALID: 2,
  INVALID: 3,
  ABORTED: 4,
  UNDEFINED: -1,
} as const;

export interface SlotInfo {
  /** Partition size in bytes. */
  readonly size: number;
  readonly state: number;
  /** Holds an image ESP-IDF accepts (its app descriptor reads). */
  readonly valid: boolean;
  /** The image's version, when valid. */
  readonly version?: string;
}

/**
 * "board/slots": the app slots (slot N = partition ota_N) and ESP-IDF's
 * update and rollback mechanism over them. Mechanism only: when to use which
 * is decided in modules/ota/.
 */
/** Which digests an image write takes of its bytes. */
export interface DigestChoice {
  readonly sha1?: boolean;
  readonly sha256?: boolean;
}

/** Hex digests of the bytes an image write wrote, those asked for. */
export interface WrittenDigests {
  readonly sha1?: string;
  readonly sha256?: string;
}

export interface SlotsPort {
  count(): number;
  /** The slot this boot runs from. */
  running(): number;
  /** The slot otadata selects for the next boot. */
  boot(): number;
  info(slot: number): SlotInfo;
  /** Length of the valid image in a slot (header, segments, checksum, hash), or -1. */
  imageLength(slot: number): number;
  /**
   * esp_ota_begin on the slot; `size` 0 when unknown. Returns a handle. The
   * bytes written are hashed as they pass with the digests asked for.
   */
  begin(slot: number, size: number, digests?: DigestChoice): number;
  /** Bytes of any length: esp_ota_write gets them in whole 4 KB sectors (the last excepted). */
  write(handle: number, bytes: ArrayBuffer | ArrayBufferView): void;
  /**
   * Writes what is left and calls esp_ota_end, which finishes and validates
   * the image. Returns the digests asked for at begin, of the bytes written.
   * The handle is closed even when this throws.
   */
  end(handle: number): WrittenDigests;
  abort(handle: number): void;
  /** esp_ota_set_boot_partition: the slot boots next, state NEW. */
  setBoot(slot: number): void;
  /** esp_ota_mark_app_valid_cancel_rollback. */
  markValid(): void;
  /** esp_ota_mark_app_invalid_rollback_and_reboot: returns only on failure. */
  markInvalidAndReboot(): void;
  read(slot: number, offset: number, length: number): ArrayBuffer;
  /** Hex digest of a slot range, read back from flash. */
  digest(slot: number, offset: number, length: number, algorithm: "sha1" | "sha256"): string;
  /** Both hex digests of a slot range from one read of the flash. */
  digests(slot: number, offset: number, length: number): { readonly sha1: string; readonly sha256: string };
  /** zlib-style CRC-32 continuing from `seed`, computed natively. */
  crc32(bytes: Uint8Array, seed: number): number;
  /** The app image checksum continuing from `seed` (ota/image-check's ImageChecksum), computed natively. */
  imageChecksum(bytes: Uint8Array, seed: number): number;
  /** Reboot into the previous image after `ms` unless disarmed; runs without JavaScript. */
  armRollbackTimer(ms: number): void;
  disarmRollbackTimer(): void;
}

/** "board/records": small blobs that survive resets and power cuts (NVS). */
export interface RecordStore {
  get(key: string): ArrayBuffer | undefined;
  set(key: string, bytes: ArrayBuffer): void;
  erase(key: string): void;
}

export interface HttpGetHandlers {
  /** Status and headers (lower-case names) of the response. */
  onHeaders(status: number, headers: Readonly<Record<string, string>>): void;
  /** Body bytes; the view is valid during the call only. */
  onData(bytes: Uint8Array): void;
  onEnd(): void;
  /** The connection failed or dropped. */
  onError(message: string): void;
}

/** "board/http-client": one HTTP GET, no redirects followed (the policy is in modules/ota/). */
export interface HttpClientPort {
  get(url: string, headers: Readonly<Record<string, string>>, handlers: HttpGetHandlers): { cancel(): void };
}

/** One WebSocket connection accepted on the RPC path of the board's HTTP server. */
export interface WsConnection {
  /** "ip:port" of the client. */
  readonly peer: string;
  /**
   * Headers of the upgrade request (lower-case names): what a channel needs to
   * authenticate the whole connection (Authorization), as mgrpc does at the handshake.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The upgrade's request target ("/rpc", "/rpc?x=1"), which a Digest Authorization covers. */
  readonly target?: string;
  /** Send one text message; does nothing once the connection is closed. */
  send(text: string): void;
  close(): void;
}

export interface WsConnectionHandlers {
  /** One complete message (text, or binary read as UTF-8). */
  onMessage(text: string): void;
  /** The connection is gone (either side closed it, or the network dropped it). */
  onClose(): void;
}

/**
 * "board/ws-server": accept WebSocket connections on the HTTP server's RPC
 * path. The adapter does the handshake as spec/mos-rpc.md §2.4 requires
 * (rpc/ws-rules: subprotocol echoed only when offered, no extensions) and
 * refuses upgrades on other paths; `accept` is called once per connection.
 */
export type ServeWebSocket = (accept: (connection: WsConnection) => WsConnectionHandlers) => void;

export type MqttQos = 0 | 1;

export interface MqttSessionHandlers {
  /**
   * The session is connected to `broker` ("host:port"), at start or again after
   * a loss: subscriptions are made here, since a new session has none.
   */
  onConnect(broker: string): void;
  onDisconnect(): void;
  /** A message on a subscribed topic; the payload read as UTF-8. */
  onMessage(topic: string, payload: string): void;
}

export interface MqttSession {
  subscribe(filters: readonly string[], qos: MqttQos): void;
  /** Not retained. While disconnected, a few QoS 1 messages wait for the next connection (the oldest go first). */
  publish(topic: string, payload: string, qos: MqttQos): void;
}

/**
 * "board/mqtt-client": the board's session with its MQTT broker. The adapter
 * keeps it up, reconnecting with back-off (rpc/reconnect-backoff) when the
 * broker goes away, and reports every (re)connection. On the virtual board the
 * supervisor owns the broker connection, as the network does.
 */
export interface MqttClientPort {
  start(clientId: string, handlers: MqttSessionHandlers): MqttSession;
}

/**
 * "board/uart": the UART the RPC channel runs on (mos: rpc.uart.uart_no).
 * `open` starts it with the channel's reader callback; writes never block or
 * throw for lack of room (the ESP32 adapter queues them). It throws when the
 * port is off or taken (on an ESP32 debug build, xsbug owns UART0).
 */
export interface RpcUartPort {
  readonly uartNo: number;
  readonly open: OpenSerial;
}
