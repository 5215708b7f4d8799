// mgrpc over HTTP as mos uses it: one POST of the whole frame to /rpc per
// call, the reply frame in the response body. node:http rather than fetch,
// whose port blocklist would refuse some ports a board may listen on.

import http from "node:http";
import https from "node:https";
import { TransportError, type FrameTransport } from "./transport.ts";

export class HttpTransport implements FrameTransport {
  readonly description: string;
  onFrame: (json: string) => void = () => {};
  onLog: (line: string) => void = () => {};
  readonly #url: URL;
  readonly #inflight = new Set<http.ClientRequest>();

  constructor(url: URL) {
    this.#url = url;
    this.description = url.href;
  }

  send(json: string): Promise<void> {
    const body = Buffer.from(json, "utf8");
    const lib = this.#url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        this.#url,
        { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": body.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => reject(new TransportError(`${this.description}: ${e.message}`)));
          res.on("end", () => {
            this.#inflight.delete(req);
            const text = Buffer.concat(chunks).toString("utf8").trim();
            if (res.statusCode !== 200) {
              reject(new TransportError(`${this.description} answered HTTP ${res.statusCode} ${res.statusMessage ?? ""}${text ? `: ${text}` : ""}`));
              return;
            }
            // A notification gets an empty body; anything else is the reply frame.
            if (text !== "") this.onFrame(text);
            resolve();
          });
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        this.#inflight.delete(req);
        if (req.destroyed && !e.code) return resolve();
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
