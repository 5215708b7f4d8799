// WebSocket on the virtual board's HTTP port: the supervisor plays the
// device's network stack and WebSocket library. It answers the upgrade on
// /rpc by the rules of spec/mos-rpc.md §2.4 (rpc/ws-rules: clubby.cesanta.com
// echoed only when offered, never an extension), refuses other paths, and
// relays each connection to the board over the link under an id.

import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { notFoundResponse } from "rpc/http-mapping";
import { isRpcUpgradePath, selectSubprotocol } from "rpc/ws-rules";
import type { LinkFrame } from "./link-codec.ts";

/** What the relay needs of the supervisor. */
export interface WsRelayBoard {
  /** Whether the firmware is up: a rebooting board has no network. */
  isUp(): boolean;
  send(message: LinkFrame["message"]): void;
}

/** A frame is a few KB at most; anything far larger is not RPC. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

export class WsRelay {
  readonly #board: WsRelayBoard;
  readonly #server = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    handleProtocols: (offered) => selectSubprotocol([...offered].join(",")) ?? false,
  });
  readonly #sockets = new Map<number, WebSocket>();
  #nextId = 1;

  constructor(http: http.Server, board: WsRelayBoard) {
    this.#board = board;
    http.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    if (!this.#board.isUp()) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? "/", "http://board");
    if (!isRpcUpgradePath(url.pathname)) {
      const r = notFoundResponse();
      const head = [`HTTP/1.1 ${r.status} Not Found`, ...r.headers.map(([k, v]) => `${k}: ${v}`)].join("\r\n");
      socket.end(`${head}\r\n\r\n${r.body}`);
      return;
    }
    this.#server.handleUpgrade(req, socket, head, (ws) => this.#opened(ws, req, url.pathname));
  }

  #opened(ws: WebSocket, req: http.IncomingMessage, path: string): void {
    const id = this.#nextId++;
    this.#sockets.set(id, ws);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    const peer = `${req.socket.remoteAddress?.replace(/^::ffff:/, "")}:${req.socket.remotePort}`;
    this.#board.send({ t: "ws-open", id, peer, path, target: req.url ?? path, headers });
    // mos accepts text or binary; either way a message is one frame of UTF-8 JSON.
    ws.on("message", (data: RawData) => {
      if (this.#sockets.get(id) === ws) this.#board.send({ t: "ws-message", id, text: rawText(data) });
    });
    ws.on("close", () => {
      if (this.#sockets.get(id) !== ws) return;
      this.#sockets.delete(id);
      this.#board.send({ t: "ws-close", id });
    });
    ws.on("error", () => {});
  }

  /** A link message from the board; false when it is not about WebSocket. */
  linkMessage(message: LinkFrame["message"]): boolean {
    const ws = this.#sockets.get(Number(message.id));
    switch (message.t) {
      case "ws-send":
        ws?.send(String(message.text ?? ""));
        return true;
      case "ws-close":
        this.#sockets.delete(Number(message.id));
        ws?.close(1000);
        return true;
      default:
        return false;
    }
  }

  /** The board went down: its connections die with it, as TCP connections do at a reset. */
  dropAll(): void {
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    for (const ws of sockets) ws.terminate();
  }

  close(): void {
    this.dropAll();
    this.#server.close();
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString("utf8");
}
