// mgrpc over WebSocket as mos uses it (spec/mos-rpc.md §2.4): ws://host/rpc,
// subprotocol clubby.cesanta.com offered, one frame per message, replies on
// the same connection. A connection that dropped (the device rebooted) is
// opened again by the next send, so a retried call can get through.

import WebSocket from "ws";
import { WS_SUBPROTOCOL } from "rpc/ws-rules";
import { TransportError, type FrameTransport } from "./transport.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;

export class WsTransport implements FrameTransport {
  readonly description: string;
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly #url: URL;
  #socket: Promise<WebSocket> | undefined;
  #closed = false;

  constructor(url: URL) {
    this.#url = url;
    this.description = url.href;
  }

  /** Connect now, so that a wrong port is reported before any call. */
  async connect(): Promise<void> {
    await this.#open();
  }

  #open(): Promise<WebSocket> {
    this.#socket ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.#url, [WS_SUBPROTOCOL], { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      const forget = () => {
        if (this.#socket === opening) this.#socket = undefined;
      };
      ws.on("open", () => resolve(ws));
      ws.on("unexpected-response", (_req, res) => {
        forget();
        reject(new TransportError(`${this.description} answered HTTP ${res.statusCode} ${res.statusMessage ?? ""} instead of a WebSocket upgrade: is RPC over WebSocket served there?`));
        res.resume();
        ws.terminate();
      });
      ws.on("error", (e: NodeJS.ErrnoException) => {
        forget();
        reject(new TransportError(`cannot reach ${this.description}: ${networkReason(e)}`));
      });
      ws.on("close", forget);
      // The device sends text; mos accepts binary too.
      ws.on("message", (data) => this.onFrame(Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(data as Buffer[]).toString("utf8")));
    });
    const opening = this.#socket;
    return opening;
  }

  async send(json: string): Promise<void> {
    if (this.#closed) throw new TransportError(`${this.description} is closed`);
    const ws = await this.#open();
    await new Promise<void>((resolve, reject) =>
      ws.send(json, (err) => (err ? reject(new TransportError(`send to ${this.description} failed: ${err.message}`)) : resolve())),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    this.#socket = undefined;
    const ws = await socket?.catch(() => undefined);
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      ws.close(1000);
      // A peer that never answers the close handshake is not waited for.
      setTimeout(() => (ws.terminate(), resolve()), 1000).unref();
    });
  }
}

function networkReason(e: NodeJS.ErrnoException): string {
  if (e.code === "ECONNREFUSED") return "connection refused";
  if (e.code === "ENOTFOUND") return "host not found";
  if (e.code === "ECONNRESET") return "connection reset";
  return e.message;
}
