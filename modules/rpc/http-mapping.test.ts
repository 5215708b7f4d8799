import assert from "node:assert/strict";
import {
  frameResponse,
  invalidRequestResponse,
  optionsResponse,
  queryToArgs,
  restResponse,
  routeHttpRequest,
  wantsKeepAlive,
  type HttpRequestIn,
} from "rpc/http-mapping";

const req = (over: Partial<HttpRequestIn>): HttpRequestIn => ({ method: "POST", path: "/rpc", query: "", headers: {}, body: "", ...over });
const route = (over: Partial<HttpRequestIn>) => routeHttpRequest(req(over), () => "4242");
const header = (headers: ReadonlyArray<readonly [string, string]>, name: string) => headers.find(([k]) => k === name)?.[1];

describe("HTTP mapping", () => {
  it("treats POST /rpc and /rpc/ bodies as whole frames", () => {
    const frame = '{"id":1,"method":"RPC.Ping"}';
    assert.deepEqual(route({ body: frame }), { kind: "frame", frameText: frame });
    assert.deepEqual(route({ path: "/rpc/", body: frame }), { kind: "frame", frameText: frame });
  });
  it("builds a frame from /rpc/<Method> with args from the body", () => {
    assert.deepEqual(route({ path: "/rpc/Sum", body: '{"a":1,"b":2}' }), {
      kind: "rest",
      frame: { id: "4242", src: "", dst: "", method: "Sum", args: { a: 1, b: 2 } },
    });
    assert.deepEqual(route({ path: "/rpc/OTA.GetBootState" }), {
      kind: "rest",
      frame: { id: "4242", src: "", dst: "", method: "OTA.GetBootState", args: undefined },
    });
  });
  it("builds GET args from the query string with raw JSON values", () => {
    assert.equal(queryToArgs('a=1&b=%22s%22'), '{"a":1,"b":"s"}');
    assert.deepEqual(route({ method: "GET", path: "/rpc/Config.Get", query: "key=%22wifi.sta%22&level=2" }), {
      kind: "rest",
      frame: { id: "4242", src: "", dst: "", method: "Config.Get", args: { key: "wifi.sta", level: 2 } },
    });
  });
  it("refuses query values that are not JSON with a clear 400 error object", () => {
    const r = route({ method: "GET", path: "/rpc/X", query: "a=hello" });
    assert.equal(r.kind, "refused");
    if (r.kind !== "refused") return;
    assert.equal(r.response.status, 500);
    assert.deepEqual(JSON.parse(r.response.body), { code: 400, message: "args are not valid JSON (query values are raw JSON: quote strings)" });
  });
  it("recognises the CORS preflight and leaves other paths alone", () => {
    assert.deepEqual(route({ method: "OPTIONS", path: "/rpc/Sys.GetInfo" }), { kind: "options" });
    assert.deepEqual(route({ path: "/rpcx" }), { kind: "not-rpc" });
    assert.deepEqual(route({ path: "/" }), { kind: "not-rpc" });
  });
  it("answers frame mode with the reply frame, HTTP 200 even for errors, body + CRLF", () => {
    const reply = '{"id":1,"src":"d","error":{"code":404,"message":"No handler for X"}}';
    const r = frameResponse(reply, false);
    assert.equal(r.status, 200);
    assert.equal(r.body, reply + "\r\n");
    assert.equal(header(r.headers, "Content-Length"), String(reply.length + 2));
    assert.equal(header(r.headers, "Connection"), "close");
    assert.equal(header(r.headers, "Access-Control-Allow-Origin"), "*");
    assert.equal(header(r.headers, "Access-Control-Allow-Headers"), "*");
    assert.equal(header(r.headers, "Content-Type"), "application/json");
  });
  it("answers REST with the bare result, or the error object with 403/404/500", () => {
    assert.equal(restResponse('{"id":1,"src":"d","result":{"a":18446744073709551617}}', true).body, '{"a":18446744073709551617}\r\n');
    assert.equal(restResponse('{"id":1,"src":"d","result":null}', true).body, "null\r\n");
    const cases: Array<[number, number]> = [[403, 403], [404, 404], [-1, 500], [400, 500], [0, 500], [418, 500]];
    for (const [code, status] of cases) {
      const r = restResponse(`{"id":1,"src":"d","error":{"code":${code},"message":"m"}}`, false);
      assert.equal(r.status, status, `code ${code}`);
      assert.equal(r.body, `{"code":${code},"message":"m"}\r\n`);
    }
  });
  it("counts Content-Length in UTF-8 bytes", () => {
    const r = restResponse('{"id":1,"src":"d","result":"é✓"}', false);
    assert.equal(header(r.headers, "Content-Length"), String(Buffer.byteLength(r.body)));
  });
  it("honours keep-alive only when asked", () => {
    assert.equal(wantsKeepAlive(req({ headers: { connection: "Keep-Alive" } })), true);
    assert.equal(wantsKeepAlive(req({})), false);
    assert.equal(header(optionsResponse(true).headers, "Connection"), "keep-alive");
  });
  it("answers the preflight with 200, CORS headers and no body", () => {
    const r = optionsResponse(false);
    assert.equal(r.status, 200);
    assert.equal(r.body, "");
    assert.equal(header(r.headers, "Content-Length"), "0");
    assert.equal(header(r.headers, "Access-Control-Allow-Origin"), "*");
  });
  it("answers a dropped frame with 400 Invalid request and closes", () => {
    const r = invalidRequestResponse();
    assert.equal(r.status, 400);
    assert.equal(header(r.headers, "Connection"), "close");
    assert.equal(header(r.headers, "Content-Length"), String(r.body.length));
  });
});
