// HTTP/1.1 requests from a byte stream, one at a time, for the board's HTTP
// server (net/http-server). Moddable's classic `http` Server cannot be
// used: it answers in the same turn as the request ends (OTA.Update replies
// minutes later), always closes after one response, adds its own
// `connection` and (string-length) `content-length` headers, and reboots the
// board on a malformed request (its parser throws inside a socket callback).
// Pure: bytes in, requests out; the tests run it under Node.

import type { HttpResponseOut } from "rpc/http-mapping";

export interface ParsedRequest {
  readonly method: string;
  /** Path without the query, still percent-encoded. */
  readonly path: string;
  /** Query without "?", still percent-encoded; "" when none. */
  readonly query: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  readonly version: string;
  /** Values by lower-case name, of the headers the board reads (REQUEST_HEADERS); repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export type ReaderEvent =
  | { readonly kind: "request"; readonly request: ParsedRequest }
  /** The admission refused the request from its head: send this and close. */
  | { readonly kind: "refused"; readonly response: HttpResponseOut }
  /** The head asked for `Expect: 100-continue`; the body follows once told to go on. */
  | { readonly kind: "continue" }
  /** Unusable input: answer with this status and close the connection. */
  | { readonly kind: "error"; readonly status: number; readonly reason: string };

export interface ReaderLimits {
  /** Request line and headers, in bytes. */
  readonly maxHead: number;
  readonly maxBody: number;
}

/** Looks at each head before its body is taken in (see HttpAdmission). */
export type HeadCheck = (head: Readonly<Omit<ParsedRequest, "body">>, bodyLength: number) => HttpResponseOut | undefined;

interface Head {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly version: string;
  readonly headers: Record<string, string>;
}

/** The request headers the board acts on; `headers` holds only these. */
const REQUEST_HEADERS = [
  "authorization",
  "connection",
  "content-length",
  "expect",
  "sec-websocket-key",
  "sec-websocket-protocol",
  "sec-websocket-version",
  "transfer-encoding",
  "upgrade",
];

const EMPTY = new Uint8Array(0);

/**
 * Header lines a head may have; more are refused with 431 before any is read.
 * Each line read costs the board a string and a few objects, and a 4 KB head
 * of 380 short lines took it to "memory full". Mongoose's server keeps 40
 * (MG_MAX_HTTP_HEADERS); browsers and mos send fewer than 20.
 */
export const MAX_HEADER_LINES = 40;

/** Compiled once: XS compiles a regular expression literal each time it is evaluated, and this one is tried on every header line. */
const WHITESPACE = /\s/;

export class HttpRequestReader {
  readonly #limits: ReaderLimits;
  readonly #check: HeadCheck | undefined;
  /** Bytes not yet parsed (a head, or what follows a complete request). */
  #pending: Uint8Array = EMPTY;
  #head: Head | undefined;
  #body: Uint8Array = EMPTY;
  #filled = 0;
  #continueDue = false;
  #failed: ReaderEvent | undefined;

  constructor(limits: ReaderLimits, check?: HeadCheck) {
    this.#limits = limits;
    this.#check = check;
  }

  /** Takes the bytes as they arrive; `bytes` may be reused by the caller afterwards. */
  push(bytes: Uint8Array): void {
    if (this.#failed) return;
    if (this.#head && this.#filled < this.#body.length) {
      const n = Math.min(bytes.length, this.#body.length - this.#filled);
      this.#body.set(bytes.subarray(0, n), this.#filled);
      this.#filled += n;
      bytes = bytes.subarray(n);
    }
    if (bytes.length === 0) return;
    // Bytes pipelined behind the current request wait here; a peer that
    // floods them gets an error instead of our memory.
    if (this.#pending.length + bytes.length > this.#limits.maxHead + this.#limits.maxBody) {
      this.#fail(fail(431, "too much data before the previous request was answered"));
      return;
    }
    this.#pending = joinBytes(this.#pending, bytes);
  }

  /** The next event, or undefined until more bytes arrive. After "error", only errors. */
  next(): ReaderEvent | undefined {
    if (this.#failed) return this.#failed;
    if (!this.#head) {
      const event = this.#readHead();
      if (event) return this.#fail(event);
      if (!this.#head) return undefined;
    }
    if (this.#filled < this.#body.length) {
      if (!this.#continueDue) return undefined;
      this.#continueDue = false;
      return { kind: "continue" };
    }
    const head = this.#head;
    const request: ParsedRequest = { ...head, body: this.#body };
    this.#head = undefined;
    this.#body = EMPTY;
    this.#filled = 0;
    return { kind: "request", request };
  }

  /** From now on only this event; what was buffered is let go (the connection lingers a while after an error). */
  #fail(event: ReaderEvent): ReaderEvent {
    this.#failed = event;
    this.#pending = EMPTY;
    this.#head = undefined;
    this.#body = EMPTY;
    return event;
  }

  /** Bytes received beyond the last request (a protocol switch takes them over). */
  takeRest(): Uint8Array {
    const rest = this.#pending;
    this.#pending = EMPTY;
    return rest;
  }

  #readHead(): ReaderEvent | undefined {
    const end = headEnd(this.#pending);
    if (end < 0) {
      return this.#pending.length > this.#limits.maxHead ? fail(431, "request head too large") : undefined;
    }
    if (end > this.#limits.maxHead) return fail(431, "request head too large");
    if (headerLines(this.#pending, end) > MAX_HEADER_LINES) return fail(431, `more than ${MAX_HEADER_LINES} header lines`);
    const lines = latin1(this.#pending.subarray(0, end)).split(/\r?\n/);
    while (lines.length > 0 && lines[0] === "") lines.shift(); // stray CRLF between requests (RFC 9112 §2.2)
    const head = parseHead(lines);
    if ("status" in head) return head;
    const length = contentLength(head.headers);
    if (typeof length !== "number") return length;
    if (length > this.#limits.maxBody) return fail(413, `body larger than ${this.#limits.maxBody} bytes`);
    const refusal = this.#check?.(head, length);
    if (refusal) return { kind: "refused", response: refusal };

    let rest = this.#pending.subarray(end);
    this.#head = head;
    this.#body = length > 0 ? new Uint8Array(length) : EMPTY;
    const n = Math.min(length, rest.length);
    this.#body.set(rest.subarray(0, n));
    this.#filled = n;
    rest = rest.subarray(n);
    this.#pending = rest.length > 0 ? rest.slice() : EMPTY;
    this.#continueDue = this.#filled < length && (head.headers["expect"] ?? "").toLowerCase() === "100-continue";
    return undefined;
  }
}

function fail(status: number, reason: string): ReaderEvent {
  return { kind: "error", status, reason };
}

/** Offset just past the blank line that ends the head, or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    if (bytes[i + 1] === 10) return i + 2;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3;
  }
  return -1;
}

function parseHead(lines: string[]): Head | { kind: "error"; status: number; reason: string } {
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d\.\d)$/.exec(lines[0] ?? "");
  if (!requestLine) return { kind: "error", status: 400, reason: "malformed request line" };
  const version = requestLine[3]!;
  if (version !== "1.1" && version !== "1.0") return { kind: "error", status: 505, reason: `HTTP/${version} is not supported` };
  const target = originForm(requestLine[2]!);
  if (target === undefined) return { kind: "error", status: 400, reason: "malformed request target" };

  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || WHITESPACE.test(line.slice(0, colon))) return { kind: "error", status: 400, reason: "malformed header line" };
    const name = line.slice(0, colon).toLowerCase();
    // Other names would become property names for good (sys/names): the board reads only these.
    if (REQUEST_HEADERS.indexOf(name) < 0) continue;
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const query = target.indexOf("?");
  return {
    method: requestLine[1]!,
    path: query < 0 ? target : target.slice(0, query),
    query: query < 0 ? "" : target.slice(query + 1),
    version: `HTTP/${version}`,
    headers,
  };
}

/** "/a?b" as sent, or the path and query of an absolute-form target ("http://host/a?b"). */
function originForm(target: string): string | undefined {
  if (target.startsWith("/")) return target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(target);
  if (!absolute) return undefined;
  const rest = absolute[1]!;
  return rest.startsWith("/") ? rest : "/" + rest;
}

/** The body length the head announces (0 without one); chunked bodies are refused. */
function contentLength(headers: Record<string, string>): number | ReaderEvent {
  const coding = headers["transfer-encoding"];
  if (coding !== undefined && coding.toLowerCase() !== "identity") {
    return fail(501, "chunked request bodies are not supported: send Content-Length");
  }
  const text = headers["content-length"];
  if (text === undefined) return 0;
  // Repeated headers arrive joined; they must agree (RFC 9112 §6.3).
  const values = text.split(",").map((v) => v.trim());
  if (!values.every((v) => /^\d{1,9}$/.test(v) && v === values[0])) return fail(400, "malformed Content-Length");
  return Number(values[0]);
}

/** `a` then `b`, in a new array. */
export function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Header lines in a head of `end` bytes (up to its blank line, the request or
 * status line not counted), from its line feeds: counted before the head is
 * read, which costs memory by the line.
 */
export function headerLines(bytes: Uint8Array, end: number): number {
  let feeds = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 10) feeds++;
  return feeds - 2;
}

/** Bytes as ISO-8859-1 text: what HTTP heads are read as. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  // apply, not spread: XS spreads through the iterator protocol, an object per
  // byte; apply reads any array-like by index (the type says number[] only).
  for (let i = 0; i < bytes.length; i += 1024) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 1024) as unknown as number[]);
  return s;
}
