// mgrpc over HTTP as mos uses it: one POST of the whole frame to /rpc per
// call (each on a connection of its own), the reply frame in the response body. node:http rather than fetch,
// whose port blocklist would refuse some ports a board may listen on.
//
// An HTTP 401 with `WWW-Authenticate: Digest` is answered as mos does
// (common/mgrpc/codec/http_out.go): the same POST once more with an
// `Authorization: Digest` header over POST and the URL's path. The challenge
// is kept, so later requests carry credentials (with a fresh cnonce) from
// the start until its nonce goes stale.

import http from "node:http";
import https from "node:https";
import { authorizationHeader, parseDigestHeader } from "rpc/digest-auth";
import { randomCnonce, type Credentials } from "./credentials.ts";
import { AuthenticationError } from "./rpc-client.ts";
import { TransportError, type FrameTransport } from "./transport.ts";

interface HttpReply {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export class HttpTransport implements FrameTransport {
  readonly description: string;
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly #url: URL;
  readonly #inflight = new Set<http.ClientRequest>();
  readonly #credentials: Credentials | undefined;
  /** The parameters of the last digest challenge. */
  #challenge: Record<string, string> | undefined;

  constructor(url: URL, credentials?: Credentials) {
    this.#url = url;
    this.description = url.href;
    this.#credentials = credentials;
  }

  async send(json: string): Promise<void> {
    const body = Buffer.from(json, "utf8");
    const known = this.#challenge;
    let reply = await this.#post(body, known && this.#authorization(known));
    if (reply?.status === 401) {
      const challenge = parseDigestHeader(String(reply.headers["www-authenticate"] ?? ""));
      if (!challenge) throw new TransportError(`${this.description} answered HTTP 401 without a digest challenge`);
      const realm = challenge.realm ?? "";
      if (!this.#credentials) throw new AuthenticationError(realm, false, "HTTP 401");
      this.#challenge = challenge;
      reply = await this.#post(body, this.#authorization(challenge));
      if (reply?.status === 401) {
        this.#challenge = undefined;
        throw new AuthenticationError(realm, true, "HTTP 401");
      }
    }
    // Undefined: closed meanwhile.
    if (!reply) return;
    if (reply.status !== 200) {
      throw new TransportError(`${this.description} answered HTTP ${reply.status} ${reply.statusMessage}${reply.text ? `: ${reply.text}` : ""}`);
    }
    // A notification gets an empty body; anything else is the reply frame.
    if (reply.text !== "") this.onFrame(reply.text);
  }

  #authorization(challenge: Record<string, string>): string | undefined {
    const c = this.#credentials;
    const request = { method: "POST", uri: this.#url.pathname + this.#url.search };
    return c && authorizationHeader(challenge, request, c.username, c.password, randomCnonce());
  }

  /** One POST; undefined when close() cut it off. */
  #post(body: Buffer, authorization: string | undefined): Promise<HttpReply | undefined> {
    const lib = this.#url.protocol === "https:" ? https : http;
    const headers: http.OutgoingHttpHeaders = { "Content-Type": "application/json", "Content-Length": body.length };
    if (authorization) headers.Authorization = authorization;
    return new Promise((resolve, reject) => {
      // A connection per call: a board has a handful of TCP control blocks
      // (8 on an ESP32) that idle keep-alive connections would hold, and a
      // kept connection dies silently when the board reboots.
      const req = lib.request(this.#url, { method: "POST", headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new TransportError(`${this.description}: ${e.message}`)));
        res.on("end", () => {
          this.#inflight.delete(req);
          const text = Buffer.concat(chunks).toString("utf8").trim();
          resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? "", headers: res.headers, text });
        });
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        this.#inflight.delete(req);
        if (req.destroyed && !e.code) return resolve(undefined);
        reject(new TransportError(`cannot reach ${this.description}: ${networkReason(e)}`));
      });
      this.#inflight.add(req);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    for (const req of this.#inflight) req.destroy();
    this.#inflight.clear();
  }
}

function networkReason(e: NodeJS.ErrnoException): string {
  if (e.code === "ECONNREFUSED") return "connection refused";
  if (e.code === "ENOTFOUND") return "host not found";
  if (e.code === "ECONNRESET") return "connection reset";
  return e.message;
}
