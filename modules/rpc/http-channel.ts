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
import type { HttpRequestHead, ServeHttp } from "platform/ports";
import type { RpcAuth } from "rpc/auth";
import type { ChannelInfo } from "rpc/dispatcher";
import { parseFrameChallenge } from "rpc/digest-auth";

/** REST calls carry no id; mgrpc makes up a random one, as here. */
const randomId = () => String(Math.floor(Math.random() * 0x7fffffff));

/** The request's headers and request line travel with the call: its credentials (rpc/auth). */
function channelOf(request: HttpRequestHead, peer: string): ChannelInfo {
  return { type: "HTTP", info: peer, headers: request.headers, request: { method: request.method, uri: requestTarget(request) } };
}

/** `auth` decides from each head whether its body may come in (rpc/auth's admitBody). */
export function startHttpChannel(rpc: Dispatcher, serve: ServeHttp, auth?: RpcAuth): void {
  const admit = (head: HttpRequestHead, bodyLength: number, peer: string) => {
    const refusal = auth?.admitBody(channelOf(head, peer), bodyLength);
    const challenge = refusal?.message === undefined ? undefined : parseFrameChallenge(refusal.message);
    return challenge && unauthorizedResponse(challenge);
  };
  serve((request, respond, peer) => {
    const channel = channelOf(request, peer);
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
  }, admit);
}
