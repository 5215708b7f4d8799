// The board's HTTP client, on both boards: one GET over a TCP socket
// (Moddable's classic `socket`), the body handed on piece by piece as it
// arrives, so memory stays constant in the size of an image. No redirects
// are followed (that policy is in ota/downloader). Plain http only: TLS would
// need the server's CA certificates built in, a per-deployment choice, so
// https URLs are refused with that reason (net/http-url).

import Timer from "timer";
import type { HttpClientPort, HttpGetHandlers } from "platform/ports";
import { base64 } from "rpc/digest";
import { encodeUtf8 } from "sys/utf8";
import { HttpResponseReader } from "net/http-response-reader";
import { MAX_URL_LENGTH, parseHttpUrl, type HttpTarget } from "net/http-url";
import { SocketOutput } from "net/socket-output";
import { SocketMessage, connectSocket, type StreamSocket } from "net/tcp-sockets";
import { errorText, guard } from "sys/guard";

/** A response head larger than this is refused: a download server sends a few hundred bytes. */
const MAX_RESPONSE_HEAD = 8192;
/** A longer line of the head is refused: a Location with the longest URL fetched fits twice over. */
const MAX_RESPONSE_LINE = 2 * MAX_URL_LENGTH;

export const httpClient: HttpClientPort = {
  get(url, headers, handlers) {
    const target = parseHttpUrl(url);
    if (typeof target === "string") return failSoon(handlers, target);
    let socket: StreamSocket;
    try {
      socket = connectSocket(target.host, target.port);
    } catch (e) {
      return failSoon(handlers, `cannot connect to ${target.host}:${target.port}: ${errorText(e)}`);
    }
    const transfer = new Transfer(socket, target, headers, handlers);
    return { cancel: () => transfer.end() };
  },
};

/**
 * Errors found before the transfer exists are reported on the next turn: the
 * caller holds its handle from get()'s return value, not before. cancel() may
 * come any number of times, from onError too: the timer is cleared only while
 * it is pending, as Timer.clear throws on a one-shot timer that has fired
 * (and that throw used to cost OTA.Update its reply).
 */
function failSoon(handlers: HttpGetHandlers, message: string): { cancel(): void } {
  let pending: ReturnType<typeof Timer.set> | undefined = Timer.set(
    guard("http-get", () => {
      pending = undefined;
      handlers.onError(message);
    }),
  );
  return {
    cancel() {
      if (pending !== undefined) Timer.clear(pending);
      pending = undefined;
    },
  };
}

class Transfer {
  readonly #socket: StreamSocket;
  readonly #target: HttpTarget;
  readonly #handlers: HttpGetHandlers;
  readonly #request: Uint8Array;
  readonly #output: SocketOutput;
  readonly #reader = new HttpResponseReader({ maxHead: MAX_RESPONSE_HEAD, maxLine: MAX_RESPONSE_LINE });
  #connected = false;
  #ended = false;

  constructor(socket: StreamSocket, target: HttpTarget, headers: Readonly<Record<string, string>>, handlers: HttpGetHandlers) {
    this.#socket = socket;
    this.#target = target;
    this.#handlers = handlers;
    this.#request = encodeUtf8(requestHead(target, headers));
    this.#output = new SocketOutput(socket, () => {});
    socket.callback = guard(
      "http-get",
      (message, value) => this.#onSocket(message, value ?? 0),
      // A handler threw: this transfer is over, and its owner must hear of it.
      () => this.#fail("the transfer failed"),
    );
  }

  /** Stop: close the connection, tell nobody (the caller cancelled, or an end was reported). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#output.clear();
    try {
      this.#socket.close();
    } catch {
      // Already closed by the network stack.
    }
  }

  #onSocket(message: number, value: number): void {
    if (this.#ended) return;
    if (message === SocketMessage.CONNECTED) {
      this.#connected = true;
      this.#output.send(this.#request);
    } else if (message === SocketMessage.WRITABLE) {
      this.#output.flush();
    } else if (message === SocketMessage.READABLE) {
      if (value > 0) this.#reader.push(new Uint8Array(this.#socket.read(ArrayBuffer)));
      this.#deliver();
    } else if (message === SocketMessage.DISCONNECTED || message === SocketMessage.ERROR) {
      if (!this.#connected) return this.#fail(`cannot connect to ${this.#target.host}:${this.#target.port}`);
      this.#deliver();
      if (this.#ended) return;
      const last = this.#reader.closed();
      if (last.kind === "end") {
        this.end();
        this.#handlers.onEnd();
      } else if (last.kind === "error") this.#fail(last.reason === "the connection closed before a response" ? "the connection dropped" : last.reason);
    }
  }

  /** Hands on every event the bytes so far make, until the end or an error. */
  #deliver(): void {
    for (let event = this.#reader.next(); event && !this.#ended; event = this.#reader.next()) {
      if (event.kind === "head") this.#handlers.onHeaders(event.status, event.headers);
      else if (event.kind === "data") this.#handlers.onData(event.bytes);
      else if (event.kind === "end") {
        this.end();
        this.#handlers.onEnd();
      } else {
        this.#fail(event.reason);
      }
    }
  }

  #fail(reason: string): void {
    if (this.#ended) return;
    this.end();
    this.#handlers.onError(reason);
  }
}

/** The request's head: GET, Host with the port, Basic credentials from the URL, the caller's headers, Connection: close. */
function requestHead(target: HttpTarget, headers: Readonly<Record<string, string>>): string {
  const lines = [`GET ${target.path} HTTP/1.1`, `Host: ${target.authority}`];
  if (target.userinfo !== undefined) lines.push(`Authorization: Basic ${base64(encodeUtf8(target.userinfo))}`);
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower !== "host" && lower !== "connection") lines.push(`${name}: ${value}`);
  }
  lines.push("Connection: close", "", "");
  return lines.join("\r\n");
}
