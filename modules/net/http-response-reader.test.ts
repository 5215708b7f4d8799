// The HTTP client's response reader against responses written by Node's own
// HTTP server (Content-Length, chunked, to the close, HEAD, 304) and against
// the malformed and oversize ones a hostile server can send.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { HttpResponseReader, MAX_RESPONSE_HEADER_LINES, type ResponseEvent } from "./http-response-reader.ts";

/** The raw bytes Node's server sends for one request. */
async function rawResponse(handler: http.RequestListener, method = "GET"): Promise<Buffer> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = net.connect(port, "127.0.0.1", () => socket.write(`${method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      socket.on("data", (c) => chunks.push(c));
      socket.on("end", () => resolve(Buffer.concat(chunks)));
      socket.on("error", reject);
    });
  } finally {
    server.close();
  }
}

/** Feeds `bytes` in pieces of `step`, then the close; returns the head, the body and how it ended. */
function read(bytes: Uint8Array, step: number, options: { head?: boolean } = {}) {
  const reader = new HttpResponseReader({ maxHead: 4096, maxLine: 1024 }, { head: options.head });
  const events: ResponseEvent[] = [];
  const body: number[] = [];
  const drain = () => {
    for (let e = reader.next(); e; e = reader.next()) {
      if (e.kind === "data") body.push(...e.bytes);
      else events.push(e);
      if (e.kind === "end" || e.kind === "error") return true;
    }
    return false;
  };
  let done = false;
  for (let at = 0; at < bytes.length && !done; at += step) {
    reader.push(bytes.slice(at, at + step));
    done = drain();
  }
  if (!done) events.push(reader.closed());
  return { events, body: Buffer.from(body) };
}

const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));

describe("HTTP response reader", () => {
  it("reads Content-Length, chunked and to-the-close bodies from Node's server, split anywhere", async () => {
    const responses = [
      await rawResponse((_, res) => res.writeHead(200, { "Content-Length": payload.length, "X-A": "1" }).end(payload)),
      await rawResponse((_, res) => {
        res.writeHead(206, { "Content-Range": "bytes 0-69999/70000" });
        for (let at = 0; at < payload.length; at += 9000) res.write(payload.subarray(at, at + 9000));
        res.end();
      }),
      Buffer.concat([Buffer.from("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n"), payload]),
    ];
    for (const raw of responses) {
      for (const step of [1, 3, 1460, raw.length]) {
        if (step === 1 && raw.length > 20_000) continue; // byte by byte is covered by the small cases
        const { events, body } = read(raw, step);
        assert.equal(events[0]!.kind, "head");
        assert.equal(events[events.length - 1]!.kind, "end", JSON.stringify(events));
        assert.ok(body.equals(payload), `step ${step}`);
      }
    }
    const { events } = read(responses[1]!, 1460);
    assert.deepEqual(events[0], { kind: "head", status: 206, headers: (events[0] as { headers: object }).headers });
    assert.equal((events[0] as { headers: Record<string, string> }).headers["transfer-encoding"], "chunked");
  });

  it("reads a small chunked body with extensions and trailers byte by byte", () => {
    const raw = Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: y\r\n\r\n");
    const { events, body } = read(raw, 1);
    assert.equal(body.toString(), "hello!");
    assert.deepEqual(events.map((e) => e.kind), ["head", "end"]);
  });

  it("has no body for HEAD, 204 and 304, and skips 100 Continue", async () => {
    const head = await rawResponse((_, res) => res.writeHead(200, { "Content-Length": 1234 }).end(), "HEAD");
    assert.deepEqual(read(head, 7, { head: true }).events.map((e) => e.kind), ["head", "end"]);
    const notModified = await rawResponse((_, res) => res.writeHead(304, { ETag: '"x"' }).end());
    assert.deepEqual(read(notModified, 7).events.map((e) => e.kind), ["head", "end"]);
    const interim = Buffer.from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno");
    const { events, body } = read(interim, 5);
    assert.equal((events[0] as { status: number }).status, 404);
    assert.equal(body.toString(), "no");
  });

  it(`reads a head of ${MAX_RESPONSE_HEADER_LINES} header lines`, () => {
    const raw = "HTTP/1.1 200 OK\r\n" + "a: 1\r\n".repeat(MAX_RESPONSE_HEADER_LINES - 1) + "Content-Length: 2\r\n\r\nok";
    const { events, body } = read(Buffer.from(raw), 64);
    assert.deepEqual(events, [{ kind: "head", status: 200, headers: { "content-length": "2" } }, { kind: "end" }]);
    assert.equal(body.toString(), "ok");
  });

  it("says what is wrong with a truncated, malformed or oversize response", () => {
    const cases: Array<[string, string]> = [
      ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "the connection closed before the end of the body"],
      ["HTTP/1.1 200 OK\r\nContent-Le", "the connection closed before a response"],
      ["SSH-2.0-OpenSSH\r\n\r\n", "malformed status line"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "malformed Content-Length"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding: gzip"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "malformed chunked body"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "1".repeat(300), "malformed chunked body"],
      ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(5000) + "\r\n\r\n", "response head too large"],
      ["HTTP/1.1 302 Found\r\nLocation: http://h/" + "a".repeat(3000) + "\r\n\r\n", "response header line too long: 3019 bytes, at most 1024"],
      ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(1022) + "\nContent-Length: 0\n\n", "response header line too long: 1025 bytes, at most 1024"],
      ["HTTP/1.1 200 OK\r\n" + "a: 1\r\n".repeat(65) + "\r\n", "more than 64 response header lines"],
    ];
    for (const [raw, reason] of cases) {
      const { events } = read(Buffer.from(raw), 64);
      assert.deepEqual(events[events.length - 1], { kind: "error", reason }, raw.slice(0, 60));
    }
  });
});
