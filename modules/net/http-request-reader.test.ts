import assert from "node:assert/strict";
import { HttpRequestReader, MAX_HEADER_LINES, type ReaderEvent } from "./http-request-reader.ts";

const limits = { maxHead: 512, maxBody: 64 };
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

function readAll(reader: HttpRequestReader): ReaderEvent[] {
  const events: ReaderEvent[] = [];
  for (let e = reader.next(); e; e = reader.next()) {
    events.push(e);
    if (e.kind === "error") break;
  }
  return events;
}

function onlyRequest(events: ReaderEvent[]) {
  assert.equal(events.length, 1);
  const [event] = events;
  assert.equal(event!.kind, "request");
  return (event as Extract<ReaderEvent, { kind: "request" }>).request;
}

describe("ESP32 HTTP request reader", () => {
  it("reads method, path, query, version, lower-case headers (those the board reads) and a Content-Length body", () => {
    const reader = new HttpRequestReader(limits);
    reader.push(bytes("POST /rpc/Sys.GetInfo?a=1&b=%22x%22 HTTP/1.1\r\nHost: dev\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n{\"a\":1}"));
    const request = onlyRequest(readAll(reader));
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/rpc/Sys.GetInfo");
    assert.equal(request.query, "a=1&b=%22x%22");
    assert.equal(request.version, "HTTP/1.1");
    // Host and Content-Type are not read by the board: their names would only stay in its memory.
    assert.deepEqual(request.headers, { "content-length": "7", connection: "keep-alive" });
    assert.equal(Buffer.from(request.body).toString(), '{"a":1}');
  });

  it("waits for a head and a body split anywhere, byte by byte", () => {
    const reader = new HttpRequestReader(limits);
    const text = "POST /rpc HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    for (const b of bytes(text)) {
      assert.equal(reader.next(), undefined);
      reader.push(Uint8Array.of(b));
    }
    assert.equal(Buffer.from(onlyRequest(readAll(reader)).body).toString(), "hello");
  });

  it("keeps pipelined requests for later and hands over what follows the last one", () => {
    const reader = new HttpRequestReader(limits);
    reader.push(bytes("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /rpc HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85"));
    const paths: string[] = [];
    for (let e = reader.next(); e?.kind === "request"; e = reader.next()) paths.push(e.request.path);
    assert.deepEqual(paths, ["/a", "/b", "/rpc"]);
    assert.deepEqual([...reader.takeRest()], [0x81, 0x85]);
  });

  it("accepts bare LF line ends, a stray CRLF before a request and absolute-form targets", () => {
    const reader = new HttpRequestReader(limits);
    reader.push(bytes("\r\nGET http://10.0.0.2/rpc/X?y=1 HTTP/1.0\nConnection: a\nConnection: b\n\n"));
    const request = onlyRequest(readAll(reader));
    assert.equal(request.path, "/rpc/X");
    assert.equal(request.query, "y=1");
    assert.equal(request.version, "HTTP/1.0");
    assert.equal(request.headers["connection"], "a, b");
  });

  it("says when a 100-continue body may come, once", () => {
    const reader = new HttpRequestReader(limits);
    reader.push(bytes("POST /rpc HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
    assert.deepEqual(reader.next(), { kind: "continue" });
    assert.equal(reader.next(), undefined);
    reader.push(bytes("abc"));
    assert.equal(Buffer.from(onlyRequest(readAll(reader)).body).toString(), "abc");
  });

  const refusals: Array<[string, string, number]> = [
    ["a malformed request line", "GARBAGE\r\n\r\n", 400],
    ["an unsupported version", "GET / HTTP/2.0\r\n\r\n", 505],
    ["a header line without a colon", "GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400],
    ["a chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
    ["a bad Content-Length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
    ["disagreeing Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    ["a body over the limit", "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 413],
    ["a head over the limit", "GET / HTTP/1.1\r\nX: " + "y".repeat(600), 431],
    ["41 header lines", "GET / HTTP/1.1\n" + "a:1\n".repeat(41) + "\n", 431],
  ];
  for (const [what, text, status] of refusals) {
    it(`refuses ${what} with ${status}, and keeps refusing`, () => {
      const reader = new HttpRequestReader(limits);
      reader.push(bytes(text));
      const event = reader.next();
      assert.equal(event?.kind, "error");
      assert.equal((event as Extract<ReaderEvent, { kind: "error" }>).status, status);
      reader.push(bytes("GET / HTTP/1.1\r\n\r\n"));
      assert.equal(reader.next()?.kind, "error");
    });
  }

  it(`reads a head of ${MAX_HEADER_LINES} header lines, whatever its line ends`, () => {
    for (const eol of ["\r\n", "\n"]) {
      const reader = new HttpRequestReader(limits);
      reader.push(bytes(`GET / HTTP/1.1${eol}${`a:1${eol}`.repeat(MAX_HEADER_LINES - 1)}Content-Length: 0${eol}${eol}`));
      assert.equal(onlyRequest(readAll(reader)).headers["content-length"], "0");
    }
  });

  it("refuses a flood pipelined behind an unanswered request", () => {
    const reader = new HttpRequestReader(limits);
    reader.push(bytes("GET / HTTP/1.1\r\n\r\n"));
    assert.equal(reader.next()?.kind, "request");
    reader.push(new Uint8Array(limits.maxHead + limits.maxBody + 1));
    assert.equal(reader.next()?.kind, "error");
  });
});
