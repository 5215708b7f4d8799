// "board/ws-server" on the virtual board: the supervisor owns the TCP port and
// does the WebSocket handshake (its library plays the part of the device's
// network stack), then relays each connection over the link by id: opened
// with the upgrade's headers, its messages, its end.

import type { ServeWebSocket, WsConnectionHandlers } from "platform/ports";
import { onLink, sendLink } from "vboard/link";

export const serveWebSocket: ServeWebSocket = (accept) => {
  const connections = new Map<number, WsConnectionHandlers>();
  const end = (id: number) => {
    const handlers = connections.get(id);
    connections.delete(id);
    handlers?.onClose();
  };
  onLink("ws-open", (m) => {
    const id = Number(m.id);
    const handlers = accept({
      peer: String(m.peer ?? ""),
      headers: (m.headers ?? {}) as Record<string, string>,
      target: String(m.target ?? m.path),
      send(text) {
        if (connections.has(id)) sendLink({ t: "ws-send", id, text });
      },
      close() {
        if (!connections.has(id)) return;
        sendLink({ t: "ws-close", id });
        end(id);
      },
    });
    connections.set(id, handlers);
  });
  onLink("ws-message", (m) => connections.get(Number(m.id))?.onMessage(String(m.text)));
  onLink("ws-close", (m) => end(Number(m.id)));
};
