// The board's WebSocket server, on both boards: connections on the RPC path
// of net/http-server, which hands over the upgrade request and its socket.
// The handshake follows spec/mos-rpc.md §2.4 (rpc/ws-rules: the subprotocol
// is echoed only when offered, no extensions); frames are read and written
// by net/ws-frames, with Moddable's `logical` to unmask natively.

import Logical from "logical";
import Timer from "timer";
import { handleUpgrades, type Upgrade } from "net/http-server";
import type { ServeWebSocket, WsConnection, WsConnectionHandlers } from "platform/ports";
import type { HttpRequestIn, HttpResponseOut } from "rpc/http-mapping";
import { base64, sha1 } from "rpc/digest";
import { isRpcUpgradePath, selectSubprotocol } from "rpc/ws-rules";
import { errorText, guard } from "sys/guard";
import { SocketOutput, utf8Bytes } from "net/socket-output";
import { SocketMessage, type StreamSocket } from "net/tcp-sockets";
import { WsClose, WsFrameReader, WsOpcode, closeBody, encodeFrame, websocketAccept } from "net/ws-frames";
import { log } from "sys/log";
import { MAX_FRAME_SIZE } from "rpc/frame";

/** A message is one RPC frame. */
const MAX_MESSAGE = MAX_FRAME_SIZE;
/** A silent peer is pinged this often and dropped when the next ping finds it still silent. */
const PING_MS = 60_000;
/** How long the board waits for the peer's close frame after sending its own. */
const CLOSE_WAIT_MS = 2_000;

export const serveWebSocket: ServeWebSocket = (accept) => {
  handleUpgrades((upgrade) => {
    const { request } = upgrade;
    // Other protocols (h2c, ...) are not ours: the request is served as plain HTTP.
    if ((request.headers["upgrade"] ?? "").trim().toLowerCase() !== "websocket") return false;
    const refusal = handshakeRefusal(request);
    if (refusal) {
      upgrade.refuse(refusal);
      return true;
    }
    new WsServerConnection(upgrade, accept);
    return true;
  });
};

/** Why an upgrade request cannot become an RPC connection, as the response to send. */
function handshakeRefusal(request: HttpRequestIn): HttpResponseOut | undefined {
  if (!isRpcUpgradePath(request.path)) return textResponse(404, "Not Found");
  if (request.method !== "GET") return textResponse(405, "WebSocket upgrades use GET");
  if ((request.headers["sec-websocket-version"] ?? "").trim() !== "13") {
    return textResponse(426, "WebSocket version 13 only", [["Sec-WebSocket-Version", "13"]]);
  }
  if (!/^[A-Za-z0-9+/]{22}==$/.test((request.headers["sec-websocket-key"] ?? "").trim())) {
    return textResponse(400, "missing or malformed Sec-WebSocket-Key");
  }
  return undefined;
}

function textResponse(status: number, text: string, extra: ReadonlyArray<readonly [string, string]> = []): HttpResponseOut {
  const body = text + "\r\n";
  return {
    status,
    headers: [["Content-Type", "text/plain"], ["Content-Length", String(utf8Bytes(body).length)], ...extra, ["Connection", "close"]],
    body,
  };
}

/** A close code that may be sent back (RFC 6455 §7.4: 1004 to 1006 and 1015 never go on the wire). */
function echoable(code: number | undefined): code is number {
  return code !== undefined && code >= 1000 && code < 5000 && code !== 1004 && code !== 1005 && code !== 1006 && code !== 1015;
}

function sha1Base64(text: string): string {
  return base64(sha1(text));
}

class WsServerConnection implements WsConnection {
  readonly peer: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly #socket: StreamSocket;
  readonly #output: SocketOutput;
  readonly #reader = new WsFrameReader(MAX_MESSAGE, (data, mask) => Logical.xor(data, mask));
  #handlers: WsConnectionHandlers | undefined;
  /** Our close frame is queued: nothing more is sent or delivered. */
  #closing = false;
  /** The peer's close frame has come: once ours has left, the TCP connection ends. */
  #peerClosed = false;
  #closed = false;
  #heardSincePing = true;
  /** The ping timer; once our close frame has left, the wait for the peer's. */
  #pinger: ReturnType<typeof Timer.repeat>;

  constructor(upgrade: Upgrade, accept: (connection: WsConnection) => WsConnectionHandlers) {
    const { request } = upgrade;
    this.peer = upgrade.peer;
    this.headers = request.headers as Readonly<Record<string, string>>;
    const key = (request.headers["sec-websocket-key"] ?? "").trim();
    const protocol = selectSubprotocol(request.headers["sec-websocket-protocol"]);
    const { socket, rest } = upgrade.take();
    this.#socket = socket;
    this.#output = new SocketOutput(socket, () => {
      if (this.#closing) this.#closeSent();
    });
    socket.callback = guard("ws", (message, value) => this.#onSocket(message, value ?? 0), () => this.#gone());
    this.#pinger = Timer.repeat(guard("ws", () => this.#ping()), PING_MS);

    try {
      const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${websocketAccept(key, sha1Base64)}`];
      if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
      lines.push("", "");
      this.#output.send(utf8Bytes(lines.join("\r\n")));
      this.#handlers = accept(this);
      if (rest.length > 0) {
        this.#reader.push(rest);
        this.#process();
      }
    } catch (e) {
      // The socket is ours now: do not leave it open behind a failed start.
      log.error("ws", `${this.peer}: ${errorText(e)}`);
      this.#gone();
    }
  }

  send(text: string): void {
    if (this.#closing || this.#closed) return;
    this.#output.send(encodeFrame(WsOpcode.TEXT, utf8Bytes(text)));
  }

  close(): void {
    this.#shutdown(WsClose.NORMAL);
  }

  #onSocket(message: number, value: number): void {
    if (this.#closed) return;
    if (message === SocketMessage.READABLE) {
      if (value > 0) this.#reader.push(new Uint8Array(this.#socket.read(ArrayBuffer)));
      this.#heardSincePing = true;
      if (this.#closing) this.#awaitPeerClose();
      else this.#process();
    } else if (message === SocketMessage.WRITABLE) {
      this.#output.flush();
    } else if (message === SocketMessage.DISCONNECTED || message === SocketMessage.ERROR) {
      this.#gone();
    }
  }

  #process(): void {
    while (!this.#closing && !this.#closed) {
      const event = this.#reader.next();
      if (!event) return;
      switch (event.kind) {
        case "message": {
          let text: string;
          try {
            text = String.fromArrayBuffer(event.data.buffer);
          } catch {
            this.#shutdown(1007); // RFC 6455 §7.4.1: data inconsistent with the message type
            return;
          }
          this.#handlers?.onMessage(text);
          break;
        }
        case "ping":
          this.#output.send(encodeFrame(WsOpcode.PONG, event.data));
          break;
        case "pong":
          break;
        case "close":
          this.#peerClosed = true;
          this.#shutdown(echoable(event.code) ? event.code : WsClose.NORMAL);
          return;
        case "error":
          log.warn("ws", `${this.peer}: ${event.reason}`);
          this.#shutdown(event.code);
          return;
      }
    }
  }

  #ping(): void {
    if (!this.#heardSincePing) {
      log.warn("ws", `${this.peer}: no answer to a ping in ${PING_MS / 1000} s; closing`);
      this.#gone();
      return;
    }
    this.#heardSincePing = false;
    if (!this.#closing) this.#output.send(encodeFrame(WsOpcode.PING, new Uint8Array(0)));
  }

  /** Send a close frame; the socket closes once it has left. */
  #shutdown(code: number): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#output.send(encodeFrame(WsOpcode.CLOSE, closeBody(code)));
  }

  /**
   * Our close frame has left. Closing the socket before the peer's close
   * frame came would reset the connection while its data is unread, and a
   * reset makes the peer's TCP drop our close frame (RFC 6455 §7.1.1: the
   * server ends TCP after the closing handshake): wait for it, a little.
   */
  #closeSent(): void {
    // What came before our close frame left may hold the peer's close already.
    if (!this.#peerClosed) this.#awaitPeerClose();
    if (this.#peerClosed) {
      this.#gone();
      return;
    }
    Timer.clear(this.#pinger);
    this.#pinger = Timer.set(guard("ws", () => this.#gone()), CLOSE_WAIT_MS);
  }

  /** While closing: messages are dropped unread; the peer's close (or garbage) ends the wait. */
  #awaitPeerClose(): void {
    for (let event = this.#reader.next(); event; event = this.#reader.next()) {
      if (event.kind === "close" || event.kind === "error") {
        this.#peerClosed = true;
        if (this.#output.idle) this.#gone();
        return;
      }
    }
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    Timer.clear(this.#pinger);
    this.#output.clear();
    try {
      this.#socket.close();
    } catch {
      // Already closed by the network stack.
    }
    this.#handlers?.onClose();
  }
}
