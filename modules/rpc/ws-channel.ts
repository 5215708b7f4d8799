// The RPC channel on WebSocket connections to /rpc (spec/mos-rpc.md §2.4):
// one frame per message, replies as text messages on the same connection.
// Connections are independent and calls on one may be answered in any order;
// a reply whose connection has closed meanwhile is dropped silently.

import type { ChannelInfo, Dispatcher } from "rpc/dispatcher";
import type { ServeWebSocket } from "platform/ports";

/** A "WS_in" channel: one connection, with its upgrade request for channel authentication. */
export interface WsChannelInfo extends ChannelInfo {
  readonly type: "WS_in";
  readonly headers: Readonly<Record<string, string>>;
  readonly request?: { readonly method: string; readonly uri: string };
}

export function startWsChannel(rpc: Dispatcher, serve: ServeWebSocket): void {
  serve((connection) => {
    const channel: WsChannelInfo = {
      type: "WS_in",
      info: connection.peer,
      headers: connection.headers,
      ...(connection.target !== undefined && { request: { method: "GET", uri: connection.target } }),
    };
    let open = true;
    const send = (reply: string) => {
      if (open) connection.send(reply);
    };
    return {
      onMessage(text) {
        // mgrpc closes a non-persistent channel that delivered a bad frame (wrong dst, not a frame).
        if (rpc.handleText(text, channel, send) === "dropped") connection.close();
      },
      onClose() {
        open = false;
      },
    };
  });
}
