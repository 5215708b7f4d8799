// RPC over WebSocket end to end on the firmware's own WebSocket server: the
// handshake as mos's Go client and python's websockets need it, xs-ota call
// and ota over ws://, as many connections as the board has room for with
// interleaved ids, bad frames, and connections dying with a reset.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import type { IncomingMessage } from "node:http";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { startBench, testFirmware, type Bench } from "./ota-rig.ts";
import { runCli } from "./run-cli.ts";

/** Debian's python3 with python3-websockets (make setup installs it): a client nobody here wrote. */
const PYTHON = "/usr/bin/python3";
const PY_CLIENT = `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], subprotocols=["clubby.cesanta.com"]) as ws:
        print(ws.subprotocol)
        await ws.send('{"id":7,"src":"py","method":"RPC.Ping"}')
        print(await ws.recv())
asyncio.run(main())
`;

/** Open a plain ws connection; resolves with it and the 101 response. */
function open(url: string, protocols: string[] = []): Promise<{ ws: WebSocket; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    let res: IncomingMessage | undefined;
    ws.once("upgrade", (r) => (res = r));
    ws.once("open", () => resolve({ ws, res: res! }));
    ws.once("unexpected-response", (_req, r) => reject(new Error(`HTTP ${r.statusCode}`)));
    ws.once("error", reject);
  });
}

/** Collect text messages until `count` have come. */
function messages(ws: WebSocket, count: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve, reject) => {
    ws.on("message", (data, isBinary) => {
      if (isBinary) reject(new Error("the device sent a binary message"));
      got.push(data.toString());
      if (got.length === count) resolve(got);
    });
    ws.once("close", () => reject(new Error(`closed after ${got.length} of ${count} messages`)));
  });
}

describe("RPC over WebSocket on the virtual board", function () {
  this.timeout(60_000);
  let bench: Bench;
  let wsUrl: string;
  beforeEach(async () => {
    bench = await startBench();
    wsUrl = bench.board.httpUrl.replace(/^http/, "ws");
  });
  afterEach(() => bench.close());

  it("echoes clubby.cesanta.com when offered, with no extensions, and answers a frame as text", async () => {
    // ws offers permessage-deflate by default: the device must not take it.
    const { ws, res } = await open(wsUrl, ["clubby.cesanta.com"]);
    assert.equal(res.headers["sec-websocket-protocol"], "clubby.cesanta.com");
    assert.equal(res.headers["sec-websocket-extensions"], undefined);
    assert.equal(res.headers.upgrade?.toLowerCase(), "websocket");
    assert.equal(res.headers.connection?.toLowerCase(), "upgrade");
    const reply = messages(ws, 1);
    ws.send('{"id":7,"src":"client","method":"OTA.GetBootState"}');
    const [frame] = await reply;
    assert.match(frame!, /^\{"id":7,"src":"esp32_[0-9A-F]{6}","dst":"client","result":\{"active_slot":0,"is_committed":true,"revert_slot":0,"commit_timeout":0\}\}$/);
    ws.close();
  });

  it("names no subprotocol when none is offered, and refuses upgrades outside /rpc", async () => {
    const { ws, res } = await open(wsUrl);
    assert.equal(res.headers["sec-websocket-protocol"], undefined);
    ws.close();
    await assert.rejects(open(wsUrl.replace(/\/rpc$/, "/other"), ["clubby.cesanta.com"]), /HTTP 404/);
    await assert.rejects(open(`${wsUrl}/Sys.GetInfo`), /HTTP 404/);
  });

  it("talks to python's websockets library: subprotocol, a frame and its reply, a clean close", async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(PYTHON, ["-c", PY_CLIENT, wsUrl], { timeout: 20_000 }, (e, out, err) => (e ? reject(new Error(`${e.message}\n${err}`)) : resolve({ stdout: out }))),
    );
    const [protocol, reply] = stdout.trim().split("\n");
    assert.equal(protocol, "clubby.cesanta.com");
    assert.match(reply!, /^\{"id":7,"src":"esp32_[0-9A-F]{6}","dst":"py","result":\{"channel_info":"127\.0\.0\.1"\}\}$/);
  });

  it("answers xs-ota call RPC.List and OTA.GetBootState over ws://", async () => {
    const list = await runCli(["--port", wsUrl, "call", "RPC.List"]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as string[]).includes("OTA.GetBootState"));
    const state = await runCli(["--port", wsUrl, "call", "OTA.GetBootState"]);
    assert.equal(state.code, 0, state.stderr);
    assert.deepEqual(JSON.parse(state.stdout), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
  });

  it("updates with xs-ota ota over ws://", async () => {
    const zip = path.join(bench.dir, "v2.zip");
    fs.writeFileSync(zip, (await testFirmware()).v2.zip);
    const r = await runCli(["--port", wsUrl, "ota", zip, "--commit-timeout", "30"]);
    assert.equal(r.code, 0, r.stderr);
    const booted = bench.nextBoot();
    await bench.board.advanceClock(200);
    await booted;
    const info = await runCli(["--port", wsUrl, "call", "Sys.GetInfo"]);
    assert.equal(JSON.parse(info.stdout).fw_version, "2.0.0");
    assert.deepEqual(await bench.rpc.call("OTA.GetBootState"), { active_slot: 1, is_committed: false, revert_slot: 0, commit_timeout: 30 });
  });

  it("takes clients while it has TCP control blocks, refuses the next at connect, and gives each its own replies", async () => {
    // An ESP32 has 8 TCP pcbs, listeners included: the board stops listening
    // while a burst of connections could exhaust them (net/tcp-sockets).
    const clients: Array<{ ws: WebSocket }> = [];
    for (;;) {
      try {
        clients.push(await open(wsUrl, ["clubby.cesanta.com"]));
      } catch (e) {
        assert.match(String(e), /ECONNREFUSED/);
        break;
      }
      assert.ok(clients.length <= 8, "more connections than an ESP32 has pcbs");
    }
    assert.ok(clients.length >= 2, `only ${clients.length} connection(s) taken`);
    const [quitter, ...callers] = clients;
    const replies = callers.map(({ ws }) => messages(ws, 3));
    callers.forEach(({ ws }, c) => {
      for (const id of [1, 2, 3]) ws.send(`{"id":${id},"src":"c${c}","tag":"c${c}-${id}","method":"RPC.Ping"}`);
    });
    quitter!.ws.send('{"id":1,"src":"quitter","method":"RPC.Ping"}');
    quitter!.ws.terminate();
    const got = await Promise.all(replies);
    got.forEach((frames, c) => {
      const parsed = frames.map((f) => JSON.parse(f) as { id: number; dst: string; tag: string });
      assert.deepEqual(parsed.map((p) => p.id).sort(), [1, 2, 3], frames.join("\n"));
      for (const p of parsed) {
        assert.equal(p.dst, `c${c}`);
        assert.equal(p.tag, `c${c}-${p.id}`);
      }
    });
    // The quitter's place is free again: a newcomer gets in once the board has closed its side.
    let newcomer: { ws: WebSocket } | undefined;
    for (let attempt = 0; !newcomer && attempt < 100; attempt++) {
      newcomer = await open(wsUrl).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 20)));
    }
    assert.ok(newcomer, "no room again after a client left");
    // Closed on both sides (the board closes TCP after the close handshake): their places are free again.
    await Promise.all(
      [...callers, newcomer].map(({ ws }) => {
        const closed = new Promise((r) => ws.once("close", r));
        ws.close();
        return closed;
      }),
    );
    assert.equal(bench.board.bootCount, 1);
    assert.equal(((await bench.rpc.call("RPC.Ping")) as { channel_info: string }).channel_info, "127.0.0.1");
  });

  it("closes the connection on a frame for another device, as mgrpc does, without a reply", async () => {
    const { ws } = await open(wsUrl, ["clubby.cesanta.com"]);
    const got: string[] = [];
    ws.on("message", (d) => got.push(d.toString()));
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    ws.send('{"id":1,"src":"client","dst":"esp32_000000","method":"RPC.List"}');
    assert.equal(await closed, 1000);
    assert.deepEqual(got, []);
    assert.match(bench.console(), /WS_in: frame dropped: wrong dst "esp32_000000"/);
  });

  it("drops connections when the board resets, as TCP connections die with a device", async () => {
    const { ws } = await open(wsUrl, ["clubby.cesanta.com"]);
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    await bench.board.reset();
    assert.equal(await closed, 1006);
    await bench.board.waitReady();
    const again = await open(wsUrl, ["clubby.cesanta.com"]);
    const reply = messages(again.ws, 1);
    again.ws.send('{"id":2,"method":"RPC.Ping"}');
    assert.match((await reply)[0]!, /^\{"id":2,"src":"esp32_[0-9A-F]{6}","result":\{"channel_info":"127\.0\.0\.1"\}\}$/);
    again.ws.close();
  });
});
