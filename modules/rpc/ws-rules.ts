// mgrpc over WebSocket (spec/mos-rpc.md §2.4): the upgrade happens on the
// RPC path, one frame per message, and the subprotocol answer must satisfy
// Go's x/net/websocket client that mos uses: echo `clubby.cesanta.com` when
// offered, otherwise name none. Extensions are never negotiated.

import { RPC_PREFIX } from "rpc/http-mapping";

export const WS_SUBPROTOCOL = "clubby.cesanta.com";

/** Whether an upgrade request on `path` opens an RPC channel. */
export function isRpcUpgradePath(path: string): boolean {
  return path === RPC_PREFIX || path === RPC_PREFIX + "/";
}

/** The Sec-WebSocket-Protocol to answer with, or undefined to send none. */
export function selectSubprotocol(offered: string | undefined): string | undefined {
  if (!offered) return undefined;
  return offered.split(",").some((p) => p.trim() === WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : undefined;
}
