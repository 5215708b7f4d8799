// The RPC channel on the board's HTTP server: each request is routed by the
// HTTP mapping, dispatched, and answered with the mapping's exact response.

import type { Dispatcher } from "rpc/dispatcher";
import {
  challengeOfReply,
  frameResponse,
  invalidRequestResponse,
  noReplyResponse,
  notFoundResponse,
  optionsResponse,
  requestTarget,
  restResponse,
  routeHttpRequest,
  unauthorizedResponse,
  wantsKeepAlive,
  type HttpResponseOut,
} from "rpc/http-mapping";
import type { ServeHttp } from "platform/ports";

/** REST calls carry no id; mgrpc makes up a random one, as here. */
const randomId = () => String(Math.floor(Math.random() * 0x7fffffff));

export function startHttpChannel(rpc: Dispatcher, serve: ServeHttp): void {
  serve((request, respond, peer) => {
    // The request's headers and request line travel with the call: its credentials (rpc/auth).
    const channel = { type: "HTTP", info: peer, headers: request.headers, request: { method: request.method, uri: requestTarget(request) } };
    const keepAlive = wantsKeepAlive(request);
    /** A call refused for want of credentials gets an HTTP 401 challenge instead of its reply. */
    const reply = (frame: string, response: (frame: string, keepAlive: boolean) => HttpResponseOut) => {
      const challenge = challengeOfReply(frame);
      respond(challenge ? unauthorizedResponse(challenge) : response(frame, keepAlive));
    };
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
        disposition = rpc.handleText(route.frameText, channel, (frame) => reply(frame, frameResponse));
        break;
      case "rest":
        disposition = rpc.handleFrame(route.frame, channel, (frame) => reply(frame, restResponse));
        break;
    }
    if (disposition === "dropped") respond(invalidRequestResponse());
    else if (disposition === "no-reply") respond(noReplyResponse(keepAlive));
  });
}
