// An HTTP/1.1 response from a byte stream, for the board's HTTP client
// (net/http-client): the status line and headers, then the body as it
// arrives, framed by Content-Length, chunked transfer coding, or the end of
// the connection (RFC 9112 §6.3). Only the head and chunk-size lines are
// buffered, within limits; body bytes are handed on as views of what came in.
// Pure: bytes in, events out; the tests run it under Node.

import { headerLines, joinBytes, latin1 } from "net/http-request-reader";
import { view } from "sys/bytes";

export type ResponseEvent =
  /** `headers`: those the board reads (RESPONSE_HEADERS), by lower-case name; repeated headers joined with ", ". */
  | { readonly kind: "head"; readonly status: number; readonly headers: Readonly<Record<string, string>> }
  /** Body bytes: valid until the next push. */
  | { readonly kind: "data"; readonly bytes: Uint8Array }
  | { readonly kind: "end" }
  | { readonly kind: "error"; readonly reason: string };

export interface ResponseLimits {
  /** Status line and headers, in bytes. */
  readonly maxHead: number;
  /** One line of the head (a Location, a cookie), in bytes. */
  readonly maxLine: number;
}

/**
 * Header lines a response head may have; more end the transfer before any is
 * read, as each costs the board memory (net/http-request-reader's limit for
 * requests). Download servers and CDNs send 10 to 30.
 */
export const MAX_RESPONSE_HEADER_LINES = 64;
/** A chunk-size line is hex digits and extensions; nobody needs a long one. */
const MAX_CHUNK_LINE = 256;
const EMPTY = new Uint8Array(0);

type Framing =
  | { readonly kind: "length"; remaining: number }
  | { readonly kind: "chunked"; state: "size" | "data" | "data-end" | "trailer"; remaining: number }
  | { readonly kind: "close" }
  | { readonly kind: "none" };

/** The response headers the board acts on; a head's `headers` holds only these. */
const RESPONSE_HEADERS = ["content-length", "content-range", "location", "transfer-encoding"];

export class HttpResponseReader {
  readonly #limits: ResponseLimits;
  /** The request was HEAD: no response to it has a body. */
  readonly #bodyless: boolean;
  #pending: Uint8Array = EMPTY;
  #framing: Framing | undefined;
  #done: ResponseEvent | undefined;

  constructor(limits: ResponseLimits, options: { readonly head?: boolean } = {}) {
    this.#limits = limits;
    this.#bodyless = options.head === true;
  }

  /** Takes the bytes as they arrive; they must not change afterwards (a socket read gives fresh ones). */
  push(bytes: Uint8Array): void {
    if (this.#done || bytes.length === 0) return;
    this.#pending = this.#pending.length === 0 ? bytes : joinBytes(this.#pending, bytes);
  }

  /** The next event, or undefined until more bytes arrive. After "end" or "error", that event again. */
  next(): ResponseEvent | undefined {
    if (this.#done) return this.#done;
    if (!this.#framing) return this.#readHead();
    const framing = this.#framing;
    switch (framing.kind) {
      case "none":
        return this.#finish({ kind: "end" });
      case "close":
        return this.#data(this.#pending.length);
      case "length":
        if (framing.remaining === 0) return this.#finish({ kind: "end" });
        return this.#counted(framing);
      case "chunked":
        return this.#chunked(framing);
    }
  }

  /** The connection closed: the end of a body that runs to the close, else the error it is. */
  closed(): ResponseEvent {
    if (this.#done) return this.#done;
    if (this.#framing?.kind === "close") return this.#finish({ kind: "end" });
    return this.#finish({ kind: "error", reason: this.#framing ? "the connection closed before the end of the body" : "the connection closed before a response" });
  }

  #finish(event: ResponseEvent): ResponseEvent {
    this.#done = event;
    this.#pending = EMPTY;
    return event;
  }

  /**
   * The next `count` bytes as a data event. This runs once per received
   * segment, so it allocates no more than it must: only the event when a
   * segment is taken whole, as it is in the middle of a body.
   */
  #data(count: number): ResponseEvent | undefined {
    if (count === 0) return undefined;
    const pending = this.#pending;
    this.#pending = count === pending.length ? EMPTY : pending.subarray(count);
    return { kind: "data", bytes: view(pending, 0, count) };
  }

  /** Data of a body framed by a length (Content-Length, or a chunk's size), which counts down. */
  #counted(framing: { remaining: number }): ResponseEvent | undefined {
    const count = Math.min(framing.remaining, this.#pending.length);
    framing.remaining -= count;
    return this.#data(count);
  }

  #readHead(): ResponseEvent | undefined {
    const end = lineEnd(this.#pending, true);
    if (end < 0) return this.#pending.length > this.#limits.maxHead ? this.#finish({ kind: "error", reason: "response head too large" }) : undefined;
    if (end > this.#limits.maxHead) return this.#finish({ kind: "error", reason: "response head too large" });
    if (headerLines(this.#pending, end) > MAX_RESPONSE_HEADER_LINES) {
      return this.#finish({ kind: "error", reason: `more than ${MAX_RESPONSE_HEADER_LINES} response header lines` });
    }
    const lines = latin1(this.#pending.subarray(0, end)).split(/\r?\n/);
    this.#pending = this.#pending.subarray(end);
    const long = lines.find((line) => line.length > this.#limits.maxLine);
    if (long !== undefined) return this.#finish({ kind: "error", reason: `response header line too long: ${long.length} bytes, at most ${this.#limits.maxLine}` });
    const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (!status) return this.#finish({ kind: "error", reason: "malformed status line" });
    const code = Number(status[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      if (line === "") continue;
      const colon = line.indexOf(":");
      if (colon <= 0) return this.#finish({ kind: "error", reason: "malformed header line" });
      const name = line.slice(0, colon).trim().toLowerCase();
      // A server's other header names would stay in the board's memory for good (sys/names).
      if (RESPONSE_HEADERS.indexOf(name) < 0) continue;
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    // An interim response (100 Continue) is followed by the real one.
    if (code >= 100 && code < 200) return this.#readHead();
    const framing = bodyFraming(code, headers, this.#bodyless);
    if (typeof framing === "string") return this.#finish({ kind: "error", reason: framing });
    this.#framing = framing;
    return { kind: "head", status: code, headers };
  }

  #chunked(framing: Extract<Framing, { kind: "chunked" }>): ResponseEvent | undefined {
    for (;;) {
      if (framing.state === "data") {
        if (framing.remaining > 0) return this.#counted(framing);
        framing.state = "data-end";
      }
      const end = lineEnd(this.#pending, false);
      if (end < 0) {
        if (this.#pending.length > MAX_CHUNK_LINE) return this.#finish({ kind: "error", reason: "malformed chunked body" });
        return undefined;
      }
      const line = latin1(this.#pending.subarray(0, end)).replace(/\r?\n$/, "");
      this.#pending = this.#pending.subarray(end);
      if (framing.state === "data-end") {
        if (line !== "") return this.#finish({ kind: "error", reason: "malformed chunked body" });
        framing.state = "size";
      } else if (framing.state === "size") {
        const size = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) return this.#finish({ kind: "error", reason: "malformed chunk size" });
        framing.remaining = parseInt(size[1]!, 16);
        framing.state = framing.remaining === 0 ? "trailer" : "data";
      } else if (line === "") {
        return this.#finish({ kind: "end" });
      }
      // else: a trailer field, ignored
    }
  }
}

/** How the body ends (RFC 9112 §6.3), or why it cannot be read. */
function bodyFraming(status: number, headers: Readonly<Record<string, string>>, bodyless: boolean): Framing | string {
  if (bodyless || status === 204 || status === 304) return { kind: "none" };
  const coding = headers["transfer-encoding"];
  if (coding !== undefined) {
    const codings = coding.toLowerCase().split(",").map((c) => c.trim());
    if (codings[codings.length - 1] !== "chunked") return `unsupported Transfer-Encoding: ${coding}`;
    if (codings.some((c) => c !== "chunked" && c !== "identity")) return `unsupported Transfer-Encoding: ${coding}`;
    return { kind: "chunked", state: "size", remaining: 0 };
  }
  const length = headers["content-length"];
  if (length === undefined) return { kind: "close" };
  const values = length.split(",").map((v) => v.trim());
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) return "malformed Content-Length";
  return { kind: "length", remaining: Number(values[0]) };
}

/** Offset just past the end of the head (a blank line) or of one line; -1 until it has arrived. */
function lineEnd(bytes: Uint8Array, blankLine: boolean): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    if (!blankLine) return i + 1;
    if (bytes[i + 1] === 10) return i + 2;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3;
  }
  return -1;
}
