// mgrpc over HTTP (spec/mos-rpc.md §2.3), independent of any HTTP server:
// which requests are RPC, how a REST call becomes a frame, and the exact
// response (status, headers, body) for each outcome; net/http-server only
// moves these.

import { parseFrameChallenge, wwwAuthenticate, type FrameChallenge } from "rpc/digest-auth";
import { MAX_NAME_LENGTH, parseFrame, type Frame } from "rpc/frame";
import { readJson } from "sys/json-limits";
import { utf8Length } from "sys/utf8";

export const RPC_PREFIX = "/rpc";

export interface HttpRequestIn {
  readonly method: string;
  /** Path without the query string, still percent-encoded. */
  readonly path: string;
  /** Query string without "?", still percent-encoded; "" when none. */
  readonly query: string;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export type HttpRoute =
  /** `/rpc` or `/rpc/`: the body is a whole frame, the reply frame is the body. */
  | { readonly kind: "frame"; readonly frameText: string }
  /** `/rpc/<Method>`: a frame built from the path and the args. */
  | { readonly kind: "rest"; readonly frame: Frame }
  /** CORS preflight on `/rpc/<Method>`. */
  | { readonly kind: "options" }
  /** The request cannot become a call; answer with this response. */
  | { readonly kind: "refused"; readonly response: HttpResponseOut }
  /** Not under `/rpc`: not ours. */
  | { readonly kind: "not-rpc" };

export interface HttpResponseOut {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

const CORS_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["Content-Type", "application/json"],
  ["Access-Control-Allow-Origin", "*"],
  ["Access-Control-Allow-Headers", "*"],
];

/** `Connection: keep-alive` is honoured only when the client asked for it. */
export function wantsKeepAlive(req: HttpRequestIn): boolean {
  return (req.headers["connection"] ?? "").trim().toLowerCase() === "keep-alive";
}

export function routeHttpRequest(req: HttpRequestIn, newId: () => string): HttpRoute {
  if (req.path !== RPC_PREFIX && !req.path.startsWith(RPC_PREFIX + "/")) return { kind: "not-rpc" };
  const rest = req.path.slice(RPC_PREFIX.length);
  if (rest.length <= 1) return { kind: "frame", frameText: req.body };
  if (req.method.toUpperCase() === "OPTIONS") return { kind: "options" };
  let method: string;
  try {
    method = decodeURIComponent(rest.slice(1));
  } catch {
    return refused(req, 400, "malformed method name in path");
  }
  if (method.length > MAX_NAME_LENGTH) return refused(req, 400, `method name longer than ${MAX_NAME_LENGTH} characters`);
  const argsText = req.method.toUpperCase() === "GET" && req.body === "" && req.query !== "" ? queryToArgs(req.query) : req.body;
  let args: unknown;
  if (argsText === undefined || argsText.trim() !== "") {
    const parsed = parseArgs(argsText);
    if (!parsed.ok) return refused(req, 400, parsed.reason);
    args = parsed.args;
  }
  return { kind: "rest", frame: { id: newId(), src: "", dst: "", method, args } };
}

/** Query parameters a REST call may carry: arguments are few; more is an attack on the heap. */
export const MAX_QUERY_PARAMS = 32;

/**
 * `?a=1&b="x"` -> `{"a":1,"b":"x"}`: values are inserted raw after decoding,
 * as mgrpc does, so strings must be JSON-quoted in the query.
 */
export function queryToArgs(query: string): string | undefined {
  const entries = query.split("&", MAX_QUERY_PARAMS + 1);
  if (entries.length > MAX_QUERY_PARAMS) return undefined;
  const members: string[] = [];
  for (const entry of entries) {
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    const value = eq < 0 ? "" : entry.slice(eq + 1);
    try {
      members.push(`${JSON.stringify(decodeQueryPart(key))}:${decodeQueryPart(value)}`);
    } catch {
      return undefined;
    }
  }
  return `{${members.join(",")}}`;
}

function decodeQueryPart(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, " "));
}

function parseArgs(text: string | undefined): { ok: true; args: unknown } | { ok: false; reason: string } {
  if (text === undefined) return { ok: false, reason: `malformed query string, or more than ${MAX_QUERY_PARAMS} parameters` };
  const read = readJson(text);
  if (read.ok) return { ok: true, args: read.value };
  if (read.overLimit) return { ok: false, reason: `args have ${read.reason}` };
  return { ok: false, reason: "args are not valid JSON (query values are raw JSON: quote strings)" };
}

function refused(req: HttpRequestIn, code: number, message: string): HttpRoute {
  return { kind: "refused", response: restErrorResponse({ code, message }, wantsKeepAlive(req)) };
}

/** Frame mode: the reply frame is the body, errors included, always HTTP 200. */
export function frameResponse(replyFrame: string, keepAlive: boolean): HttpResponseOut {
  return jsonResponse(200, replyFrame, keepAlive);
}

/**
 * REST mode: the bare result on success; on error the error object with HTTP
 * 403 or 404 for those codes and 500 for every other (even code 0).
 */
export function restResponse(replyFrame: string, keepAlive: boolean): HttpResponseOut {
  const parsed = parseFrame(replyFrame);
  if (parsed.ok && parsed.frame.error) return restErrorResponse(parsed.frame.error, keepAlive);
  return jsonResponse(200, parsed.ok ? (parsed.frame.result ?? "null") : "null", keepAlive);
}

function restErrorResponse(error: { code: number; message?: string }, keepAlive: boolean): HttpResponseOut {
  const status = error.code === 403 || error.code === 404 ? error.code : 500;
  return jsonResponse(status, JSON.stringify(error), keepAlive);
}

/** The request target as the request line had it: path and query (what an HTTP digest covers). */
export function requestTarget(req: Pick<HttpRequestIn, "path" | "query">): string {
  return req.query === "" ? req.path : `${req.path}?${req.query}`;
}

/**
 * The challenge in a reply frame that refuses a call for want of credentials
 * (error 401 with a digest challenge as its message), or undefined. Over HTTP
 * it is answered with an HTTP 401 instead of the frame, as Mongoose's HTTP
 * channel does, in frame and REST mode alike.
 */
export function challengeOfReply(replyFrame: string): FrameChallenge | undefined {
  // Cheap test first: almost every reply is something else.
  if (!replyFrame.includes('"error":{"code":401,')) return undefined;
  const parsed = parseFrame(replyFrame);
  const error = parsed.ok ? parsed.frame.error : undefined;
  return error?.code === 401 && error.message !== undefined ? parseFrameChallenge(error.message) : undefined;
}

/** HTTP 401 asking for digest credentials; the connection closes after it. */
export function unauthorizedResponse(challenge: FrameChallenge): HttpResponseOut {
  return {
    status: 401,
    headers: [
      ["WWW-Authenticate", wwwAuthenticate(challenge.realm, challenge.nonce, challenge.algorithm)],
      ["Content-Length", "0"],
      ["Connection", "close"],
    ],
    body: "",
  };
}

/** CORS preflight: 200, the CORS headers, no body. */
export function optionsResponse(keepAlive: boolean): HttpResponseOut {
  return { status: 200, headers: [...CORS_HEADERS, ["Content-Length", "0"], connection(keepAlive)], body: "" };
}

/** A frame that was dropped (invalid, wrong dst) closes the exchange with 400. */
export function invalidRequestResponse(): HttpResponseOut {
  const body = "Invalid request\r\n";
  return {
    status: 400,
    headers: [["Content-Type", "text/plain"], ["Content-Length", String(body.length)], ["Connection", "close"]],
    body,
  };
}

/** Paths outside /rpc: this server serves nothing else. */
export function notFoundResponse(): HttpResponseOut {
  const body = "Not Found\r\n";
  return {
    status: 404,
    headers: [["Content-Type", "text/plain"], ["Content-Length", String(body.length)], ["Connection", "close"]],
    body,
  };
}

/** A notification gets no reply frame; the HTTP exchange still needs an answer. */
export function noReplyResponse(keepAlive: boolean): HttpResponseOut {
  return { status: 200, headers: [...CORS_HEADERS, ["Content-Length", "0"], connection(keepAlive)], body: "" };
}

/** Body followed by CRLF, Content-Length counting both, as mgrpc sends. */
function jsonResponse(status: number, json: string, keepAlive: boolean): HttpResponseOut {
  const body = json + "\r\n";
  return {
    status,
    headers: [...CORS_HEADERS, ["Content-Length", String(utf8Length(body))], connection(keepAlive)],
    body,
  };
}

function connection(keepAlive: boolean): readonly [string, string] {
  return ["Connection", keepAlive ? "keep-alive" : "close"];
}
