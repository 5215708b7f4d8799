// The board's HTTP/1.1 server, on both boards: over Moddable's classic
// `socket` Listener (the one its `http` Server uses; why not that Server
// itself is said in net/http-request-reader). Each request goes to
// the handler as an HttpRequestIn; the response is written exactly as given
// (status, headers in order, body in UTF-8), whenever the handler answers.
// The connection stays open when the response says `Connection: keep-alive`
// and has a Content-Length, and the next request (pipelined or not) is read
// once the previous response has left. WebSocket upgrades are offered to
// net/ws-server first.

import { Listener } from "socket";
import Timer from "timer";
import type { HttpAdmission, HttpRequestHandler, ServeHttp } from "platform/ports";
import type { HttpRequestIn, HttpResponseOut } from "rpc/http-mapping";
import { httpPort } from "sys/board-config";
import { errorText, guard } from "sys/guard";
import { HttpRequestReader, type ParsedRequest } from "net/http-request-reader";
import { whenNetworkUp } from "board/network";
import { SocketOutput, utf8Bytes } from "net/socket-output";
import { LISTENER_QUEUE, SocketMessage, TCP_PCBS, acceptSocket, onSocketsChanged, socketsInUse, type StreamSocket } from "net/tcp-sockets";
import { log } from "sys/log";
import { MAX_FRAME_SIZE } from "rpc/frame";

/**
 * A body is one RPC frame (or its arguments); a head is a request line and a
 * few headers (a digest Authorization is about 300 bytes). Both buffers are
 * bounded before they are allocated, so a connection holds at most 8 KB.
 */
const LIMITS = { maxHead: 4096, maxBody: MAX_FRAME_SIZE };
/** A keep-alive connection idle this long is closed, to free its control block. */
const IDLE_MS = 30_000;
/**
 * After an error response, what the client still sends is read and thrown
 * away this long before closing (RFC 9112 §9.6, "lingering close"): a
 * socket closed with unread bytes sends a reset, and a reset makes the
 * client's TCP discard the 413 or 431 it has not read yet.
 */
const LINGER_MS = 2_000;

/** A request to switch protocols, offered to the upgrade handler. */
export interface Upgrade {
  readonly request: HttpRequestIn;
  readonly peer: string;
  /** Answer with this response instead and close the connection. */
  refuse(response: HttpResponseOut): void;
  /** Take the connection over: its socket and the bytes that followed the request. */
  take(): { readonly socket: StreamSocket; readonly rest: Uint8Array };
}

/** Returns true when it claimed the request (and called `refuse` or `take`). */
export type UpgradeHandler = (upgrade: Upgrade) => boolean;

let upgradeHandler: UpgradeHandler | undefined;

/** For net/ws-server: it gets every `Connection: upgrade` request first. */
export function handleUpgrades(handler: UpgradeHandler): void {
  upgradeHandler = handler;
}

let serving = false;
const connections = new Set<HttpConnection>();

export const serveHttp: ServeHttp = (handler, admit) => {
  if (serving) return;
  serving = true;
  whenNetworkUp(() => {
    const gate = new ListenerGate(httpPort(), (listener) => connections.add(new HttpConnection(acceptSocket(listener), handler, admit)));
    onSocketsChanged(() => gate.update());
    gate.update();
  });
};

/** Room for the listener: its own pcb and a whole accept queue on top of the sockets in use. */
function roomToListen(): boolean {
  return socketsInUse() + 1 + LISTENER_QUEUE <= TCP_PCBS;
}

/**
 * Kept-alive connections that wait idle for a next request are closed,
 * oldest first, while there is no room to listen: a client may lose an idle
 * connection at any time (RFC 9112 §9.6) and connects again, while one left
 * out would be refused for as long as they idle.
 */
function reclaimIdleConnections(): void {
  for (const connection of [...connections]) {
    if (roomToListen()) return;
    if (connection.reclaimable) connection.close();
  }
}

/**
 * The listener is open only while lwIP's pcb pool can take a whole accept
 * queue on top of the sockets in use and the listener itself
 * (net/tcp-sockets): past that, a new client is refused by the stack, which
 * it can retry, instead of panicking the board. Clients the budget keeps out
 * get in as others leave.
 */
class ListenerGate {
  readonly #port: number;
  readonly #accept: (listener: Listener) => void;
  #listener: Listener | undefined;
  #announced = false;
  /** Closing a connection below changes the count, which calls update() again. */
  #updating = false;

  constructor(port: number, accept: (listener: Listener) => void) {
    this.#port = port;
    this.#accept = accept;
  }

  update(): void {
    if (this.#updating) return;
    this.#updating = true;
    try {
      if (!roomToListen()) reclaimIdleConnections();
      this.#listen(roomToListen());
    } finally {
      this.#updating = false;
    }
  }

  #listen(room: boolean): void {
    if (room && !this.#listener) {
      const listener = new Listener({ port: this.#port });
      listener.callback = guard("http", () => this.#accept(listener));
      this.#listener = listener;
      if (!this.#announced) log.info("http", `listening on port ${this.#port}`);
      this.#announced = true;
    } else if (!room && this.#listener) {
      const listener = this.#listener;
      this.#listener = undefined;
      listener.close();
    }
  }
}

class HttpConnection {
  readonly #socket: StreamSocket;
  readonly #handler: HttpRequestHandler;
  readonly #peer: string;
  readonly #reader: HttpRequestReader;
  readonly #output: SocketOutput;
  /** A request is with the handler: the next one waits for its response. */
  #busy = false;
  /** Close once the output has left (the response said close, or an error). */
  #closing = false;
  /** The response was an error about the request itself: linger before closing. */
  #refused = false;
  /** Output done, closing soon: input is skipped until then. */
  #lingering = false;
  #closed = false;
  #idle: ReturnType<typeof Timer.set> | undefined;
  /** A response has gone out: the connection is one kept alive, not one whose request is still coming. */
  #served = false;

  constructor(socket: StreamSocket, handler: HttpRequestHandler, admit: HttpAdmission | undefined) {
    this.#socket = socket;
    this.#handler = handler;
    // The address only: lwIP sockets in Moddable do not tell the remote port.
    this.#peer = socket.get("REMOTE_IP") ?? "";
    this.#reader = new HttpRequestReader(LIMITS, admit && ((head, length) => admit(head, length, this.#peer)));
    this.#output = new SocketOutput(socket, () => this.#drained());
    socket.callback = guard("http", (message, value) => this.#onSocket(message, value ?? 0), () => this.#close());
    this.#armIdle();
  }

  #onSocket(message: number, value: number): void {
    if (this.#closed) return;
    if (message === SocketMessage.READABLE) {
      // A refused request's remaining bytes are thrown away unread (read(null)
      // throws when nothing is buffered, hence the count check).
      if (this.#refused) {
        if (value > 0) this.#socket.skip();
        return;
      }
      if (value > 0) this.#reader.push(new Uint8Array(this.#socket.read(ArrayBuffer)));
      this.#process();
    } else if (message === SocketMessage.WRITABLE) {
      this.#output.flush();
    } else if (message === SocketMessage.DISCONNECTED || message === SocketMessage.ERROR) {
      this.#close();
    }
  }

  /** Serve what has arrived, one request at a time, each after the previous response left. */
  #process(): void {
    while (!this.#busy && !this.#closing && !this.#closed && this.#output.idle) {
      const event = this.#reader.next();
      if (!event) return;
      if (event.kind === "continue") {
        this.#output.send(utf8Bytes("HTTP/1.1 100 Continue\r\n\r\n"));
      } else if (event.kind === "error") {
        log.warn("http", `${this.#peer}: ${event.reason}`);
        this.#refused = true;
        this.#write(plainResponse(event.status, event.reason), true);
      } else if (event.kind === "refused") {
        this.#refused = true;
        this.#write(event.response, true, true);
      } else {
        this.#dispatch(event.request);
      }
    }
  }

  #dispatch(parsed: ParsedRequest): void {
    this.#disarmIdle();
    let body: string;
    try {
      body = parsed.body.length === 0 ? "" : String.fromArrayBuffer(parsed.body.buffer);
    } catch {
      this.#write(plainResponse(400, "the body is not UTF-8"), true);
      return;
    }
    const request: HttpRequestIn = { method: parsed.method, path: parsed.path, query: parsed.query, headers: parsed.headers, body };
    if (upgradeHandler && wantsUpgrade(parsed.headers) && this.#offerUpgrade(request)) return;

    this.#busy = true;
    const head = parsed.method.toUpperCase() === "HEAD";
    let answered = false;
    this.#handler(
      request,
      (response) => {
        // One response per request, and none after the peer left. The
        // handler may answer from any callback: a failure here must not escape.
        if (answered || this.#closed) return;
        answered = true;
        try {
          this.#busy = false;
          this.#write(response, !head);
        } catch (e) {
          log.error("http", `${this.#peer}: cannot send the response: ${errorText(e)}`);
          this.#close();
        }
      },
      this.#peer,
    );
  }

  #offerUpgrade(request: HttpRequestIn): boolean {
    return upgradeHandler!({
      request,
      peer: this.#peer,
      refuse: (response) => this.#write(response, true, true),
      take: () => {
        // From here on the socket is the new protocol's; this connection is gone.
        this.#closed = true;
        this.#disarmIdle();
        connections.delete(this);
        return { socket: this.#socket, rest: this.#reader.takeRest() };
      },
    });
  }

  /** Status line, the headers as given, the body; then keep the connection or close it. */
  #write(response: HttpResponseOut, withBody: boolean, forceClose = false): void {
    const lines = [`HTTP/1.1 ${response.status} ${reasonPhrase(response.status)}`];
    let keepAlive = false;
    let framed = false;
    for (const [name, value] of response.headers) {
      lines.push(`${name}: ${value}`);
      const lower = name.toLowerCase();
      if (lower === "connection") keepAlive = value.trim().toLowerCase() === "keep-alive";
      else if (lower === "content-length") framed = true;
    }
    // Without a length the body ends where the connection does.
    this.#closing = forceClose || !keepAlive || !framed;
    lines.push("", "");
    this.#output.send(utf8Bytes(lines.join("\r\n")), withBody ? utf8Bytes(response.body) : new Uint8Array(0));
  }

  /** Idle between requests on a kept-alive connection: may be closed when its pcb is needed. */
  get reclaimable(): boolean {
    return this.#served && this.#idle !== undefined && !this.#closed;
  }

  close(): void {
    this.#close();
  }

  #drained(): void {
    if (this.#closed) return;
    if (this.#closing) {
      if (this.#refused) this.#linger();
      else this.#close();
      return;
    }
    if (!this.#busy) {
      this.#served = true;
      this.#armIdle();
      this.#process();
      // Kept alive while others wait outside: the pcb goes to them.
      if (this.reclaimable && !roomToListen()) reclaimIdleConnections();
    }
  }

  #linger(): void {
    if (this.#lingering) return;
    this.#lingering = true;
    this.#armIdle(LINGER_MS);
  }

  /** Close after `ms` unless disarmed (a request came, or the connection went another way). */
  #armIdle(ms = IDLE_MS): void {
    this.#disarmIdle();
    this.#idle = Timer.set(
      guard("http", () => {
        this.#idle = undefined;
        this.#close();
      }),
      ms,
    );
  }

  #disarmIdle(): void {
    if (this.#idle !== undefined) Timer.clear(this.#idle);
    this.#idle = undefined;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarmIdle();
    this.#output.clear();
    connections.delete(this);
    try {
      this.#socket.close();
    } catch {
      // Already closed by the network stack.
    }
  }
}

function wantsUpgrade(headers: Readonly<Record<string, string>>): boolean {
  return (headers["connection"] ?? "").toLowerCase().split(",").some((token) => token.trim() === "upgrade");
}

function plainResponse(status: number, reason: string): HttpResponseOut {
  const body = reason + "\r\n";
  return {
    status,
    headers: [["Content-Type", "text/plain"], ["Content-Length", String(utf8Bytes(body).length)], ["Connection", "close"]],
    body,
  };
}

const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  411: "Length Required",
  413: "Payload Too Large",
  418: "I'm a teapot",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 400 ? "OK" : "Error");
}
