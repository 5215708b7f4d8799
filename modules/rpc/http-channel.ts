// The RPC channel on the board's HTTP server: each request is routed by the
// HTTP mapping, dispatched, and answered with the mapping's exact response.

import type { Dispatcher } from "rpc/dispatcher";
import {
  frameResponse,
  invalidRequestResponse,
  noReplyResponse,
  notFoundResponse,
  optionsResponse,
  restResponse,
  routeHttpRequest,
  wantsKeepAlive,
} from "rpc/http-mapping";
import type { ServeHttp } from "platform/ports";

/** REST calls carry no id; mgrpc makes up a random one, as here. */
const randomId = () => String(Math.floor(Math.random() * 0x7fffffff));

export function startHttpChannel(rpc: Dispatcher, serve: ServeHttp): void {
  serve((request, respond, peer) => {
    const channel = { type: "HTTP", info: peer };
    const keepAlive = wantsKeepAlive(request);
    const route = routeHttpRequest(request, randomId);
    let disposition;
    switch (route.kind) {
      case "not-rpc":
        respond(notFoundResponse());
        return;
      case "options":
        respond(optionsResponse(keepAlive));
        return;
      case "refused":
        respond(route.response);
        return;
      case "frame":
        disposition = rpc.handleText(route.frameText, channel, (reply) => respond(frameResponse(reply, keepAlive)));
        break;
      case "rest":
        disposition = rpc.handleFrame(route.frame, channel, (reply) => respond(restResponse(reply, keepAlive)));
        break;
    }
    if (disposition === "dropped") respond(invalidRequestResponse());
    else if (disposition === "no-reply") respond(noReplyResponse(keepAlive));
  });
}
