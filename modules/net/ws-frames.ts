// WebSocket frames (RFC 6455 §5), server side, for the ESP32's WebSocket
// server (board/ws-server). Moddable's `websocket` module is not used: it
// parses a frame only when the whole frame sits in one TCP segment (an
// OTA.Write frame of a few KB spans several), ignores continuation frames
// and 64-bit lengths, and hides the upgrade request's headers, which the
// channel needs for authentication. Pure: bytes in, events out; unmasking is
// passed in so the device does it natively (Moddable's `logical`).

export const WsOpcode = {
  CONTINUATION: 0,
  TEXT: 1,
  BINARY: 2,
  CLOSE: 8,
  PING: 9,
  PONG: 10,
} as const;

/** Close codes (RFC 6455 §7.4.1) this side sends. */
export const WsClose = {
  NORMAL: 1000,
  PROTOCOL_ERROR: 1002,
  TOO_BIG: 1009,
} as const;

export type WsEvent =
  /** A whole message; `binary` for opcode 2. */
  | { readonly kind: "message"; readonly binary: boolean; readonly data: Uint8Array }
  | { readonly kind: "ping"; readonly data: Uint8Array }
  | { readonly kind: "pong" }
  /** The peer closes; `code` is absent when it gave none. */
  | { readonly kind: "close"; readonly code?: number }
  /** The peer broke the protocol: close with `code`, read nothing more. */
  | { readonly kind: "error"; readonly code: number; readonly reason: string };

/** XORs `data` in place with the 4-byte `mask`, repeated from data[0]. */
export type Unmask = (data: Uint8Array, mask: Uint8Array) => void;

const EMPTY = new Uint8Array(0);

export class WsFrameReader {
  readonly #maxMessage: number;
  readonly #unmask: Unmask;
  #pending: Uint8Array = EMPTY;
  /** Fragments of a message whose first frame had FIN clear. */
  #fragments: Uint8Array[] | undefined;
  #fragmentsLength = 0;
  #fragmentsBinary = false;
  #failed: WsEvent | undefined;
  /** Bytes still to come of an oversize frame, dropped as they arrive. */
  #skipping = 0;

  constructor(maxMessage: number, unmask: Unmask) {
    this.#maxMessage = maxMessage;
    this.#unmask = unmask;
  }

  push(bytes: Uint8Array): void {
    if (this.#skipping > 0) {
      const n = Math.min(this.#skipping, bytes.length);
      this.#skipping -= n;
      bytes = bytes.subarray(n);
    }
    if (this.#failed || bytes.length === 0) return;
    const joined = new Uint8Array(this.#pending.length + bytes.length);
    joined.set(this.#pending);
    joined.set(bytes, this.#pending.length);
    this.#pending = joined;
  }

  /**
   * The next event, or undefined until more bytes arrive. After "close" or
   * an "error", nothing more is read, except after a frame over the limit
   * (1009): its bytes are dropped as they come and reading goes on, so the
   * peer's answer to our close frame can still be read.
   */
  next(): WsEvent | undefined {
    while (!this.#failed) {
      const frame = this.#readFrame();
      if (frame === undefined) return undefined;
      if ("skip" in frame) return this.#skip(frame.skip);
      if ("kind" in frame) return this.#stop(frame);
      const event = this.#deliver(frame);
      if (event) return event.kind === "close" ? this.#stop(event) : event;
    }
    return this.#failed;
  }

  #skip(frameBytes: number): WsEvent {
    const pending = this.#pending;
    this.#pending = frameBytes < pending.length ? pending.slice(frameBytes) : EMPTY;
    this.#skipping = Math.max(0, frameBytes - pending.length);
    this.#fragments = undefined;
    return { kind: "error", code: WsClose.TOO_BIG, reason: `message larger than ${this.#maxMessage} bytes` };
  }

  #stop(event: WsEvent): WsEvent {
    this.#failed = event;
    this.#pending = EMPTY;
    this.#fragments = undefined;
    return event;
  }

  #readFrame(): { fin: boolean; opcode: number; payload: Uint8Array } | { skip: number } | WsEvent | undefined {
    const b = this.#pending;
    if (b.length < 2) return undefined;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    if ((b[0]! & 0x70) !== 0) return protocolError("reserved bits set (no extension was negotiated)");
    if ((b[1]! & 0x80) === 0) return protocolError("client frames must be masked");
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = (b[2]! << 8) | b[3]!;
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      // A length beyond 2^32 is far beyond any limit here.
      if (b[2] || b[3] || b[4] || b[5]) return { kind: "error", code: WsClose.TOO_BIG, reason: "message too large" };
      length = ((b[6]! << 24) >>> 0) + ((b[7]! << 16) | (b[8]! << 8) | b[9]!);
      offset = 10;
    }
    if (opcode >= 8 && (!fin || length > 125)) return protocolError("fragmented or oversized control frame");
    if (length > this.#maxMessage) return { skip: offset + 4 + length };
    if (b.length < offset + 4 + length) return undefined;
    const mask = b.subarray(offset, offset + 4);
    const payload = b.slice(offset + 4, offset + 4 + length);
    if (length > 0) this.#unmask(payload, mask);
    const rest = b.subarray(offset + 4 + length);
    this.#pending = rest.length > 0 ? rest.slice() : EMPTY;
    return { fin, opcode, payload };
  }

  #deliver(frame: { fin: boolean; opcode: number; payload: Uint8Array }): WsEvent | undefined {
    switch (frame.opcode) {
      case WsOpcode.PING:
        return { kind: "ping", data: frame.payload };
      case WsOpcode.PONG:
        return { kind: "pong" };
      case WsOpcode.CLOSE:
        if (frame.payload.length === 1) return protocolError("close frame with a one-byte body");
        return frame.payload.length >= 2 ? { kind: "close", code: (frame.payload[0]! << 8) | frame.payload[1]! } : { kind: "close" };
      case WsOpcode.TEXT:
      case WsOpcode.BINARY:
        if (this.#fragments) return protocolError("new message before the previous one ended");
        if (frame.fin) return { kind: "message", binary: frame.opcode === WsOpcode.BINARY, data: frame.payload };
        this.#fragments = [frame.payload];
        this.#fragmentsLength = frame.payload.length;
        this.#fragmentsBinary = frame.opcode === WsOpcode.BINARY;
        return undefined;
      case WsOpcode.CONTINUATION:
        return this.#continue(frame);
      default:
        return protocolError(`unknown opcode ${frame.opcode}`);
    }
  }

  #continue(frame: { fin: boolean; payload: Uint8Array }): WsEvent | undefined {
    if (!this.#fragments) return protocolError("continuation frame without a message");
    this.#fragmentsLength += frame.payload.length;
    if (this.#fragmentsLength > this.#maxMessage) {
      // This frame is read already: the message is dropped, the stream goes on.
      this.#fragments = undefined;
      return { kind: "error", code: WsClose.TOO_BIG, reason: `message larger than ${this.#maxMessage} bytes` };
    }
    this.#fragments.push(frame.payload);
    if (!frame.fin) return undefined;
    const data = new Uint8Array(this.#fragmentsLength);
    let at = 0;
    for (const part of this.#fragments) {
      data.set(part, at);
      at += part.length;
    }
    this.#fragments = undefined;
    return { kind: "message", binary: this.#fragmentsBinary, data };
  }
}

function protocolError(reason: string): WsEvent {
  return { kind: "error", code: WsClose.PROTOCOL_ERROR, reason };
}

/** One unfragmented, unmasked frame, as a server sends it. */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const frame = new Uint8Array(headerLength + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = n;
  else if (n < 0x10000) {
    frame[1] = 126;
    frame[2] = n >> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 127;
    frame[6] = (n >>> 24) & 0xff;
    frame[7] = (n >> 16) & 0xff;
    frame[8] = (n >> 8) & 0xff;
    frame[9] = n & 0xff;
  }
  frame.set(payload, headerLength);
  return frame;
}

/** The body of a close frame: the code, big-endian. */
export function closeBody(code: number): Uint8Array {
  return Uint8Array.of(code >> 8, code & 0xff);
}

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key, given SHA-1-then-base64 of a string. */
export function websocketAccept(key: string, sha1Base64: (text: string) => string): string {
  return sha1Base64(key.trim() + ACCEPT_GUID);
}
