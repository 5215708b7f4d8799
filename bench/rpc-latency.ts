// RPC latency of the virtual board over its UART (paced at 115200 baud 8N1:
// host/vboard/uart-pacer.ts), HTTP and WebSocket on loopback: one call at a
// time, as a user's tool makes them, each timed from the call to its reply.
//
//   rpc-latency-<channel>-ping       p50 of RPC.Ping on an idle board
//   rpc-latency-<channel>-bootstate  p99 of OTA.GetBootState while the board
//                                    pulls a package (OTA.Update over its
//                                    own HTTP client, from a local server,
//                                    at DOWNLOAD_BYTES_PER_S: unshaped, the
//                                    board takes it in a fraction of a
//                                    second, too short to sample)
//
// Anchors, measured or computed in the same run:
//   UART       the wire time of the call's request and reply frames at
//              115200 baud (mos framing, as sent and answered), nothing else:
//              not the handshake xs-ota sends before each frame as mos does,
//              nor the USB-serial chip's latency, nor the board's work
//   HTTP, WS   ping: the same client against a Node server on loopback that
//              answers RPC.Ping at once (what the host and loopback cost);
//              bootstate: the p50 of the same call on the idle board
//
// Run alone: npx tsx --tsconfig tsconfig.json bench/rpc-latency.ts

import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { openPort } from "../host/client/open-port.ts";
import { RpcClient } from "../host/client/rpc-client.ts";
import { encodeMosFrame } from "../host/client/uart-reader.ts";
import { encodeRequest } from "rpc/frame";
import { servePackages, startBench, testFirmware, type Bench, type Serve } from "../test/ota-rig.ts";
import { isMain, runStandalone } from "./standalone.ts";
import type { Benchmark, Figure } from "./figure.ts";

const BAUD = 115200;
type Channel = "uart" | "http" | "ws";
const CHANNELS: readonly Channel[] = ["uart", "http", "ws"];
/** Calls per idle sample: enough for a p99 that is not the maximum of a handful. */
const IDLE_CALLS: Record<Channel, number> = { uart: 150, http: 300, ws: 300 };
/**
 * The download's pace, a modest Wi-Fi rate, so that it lasts a few seconds.
 * The package server keeps it: the board's network shaper does not, as a
 * board on the real clock reads no link message its firmware does not ask for.
 */
const DOWNLOAD_BYTES_PER_S = 48_000;
/** The server writes this much at a time, at the pace above. */
const DOWNLOAD_PIECE = 4096;
/** The ids xs-ota sends: 13 digits. */
const TYPICAL_ID = 2 ** 40;

interface Sample {
  readonly p50: number;
  readonly p99: number;
  readonly calls: number;
}

/** Serve `bytes` whole, DOWNLOAD_PIECE bytes at a time at DOWNLOAD_BYTES_PER_S. */
function pacedFile(bytes: Buffer): Serve {
  return (_req, res) => {
    res.writeHead(200, { "Content-Length": bytes.length });
    const started = performance.now();
    const send = (offset: number) => {
      if (res.destroyed) return;
      if (offset >= bytes.length) return void res.end();
      res.write(bytes.subarray(offset, offset + DOWNLOAD_PIECE));
      const next = offset + DOWNLOAD_PIECE;
      setTimeout(() => send(next), started + (next / DOWNLOAD_BYTES_PER_S) * 1000 - performance.now());
    };
    send(0);
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summarize(ms: number[]): Sample {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), calls: ms.length };
}

/** Time `method` call after call, `count` times or, with `until`, as long as it says. */
async function timeCalls(client: RpcClient, method: string, more: (done: number) => boolean): Promise<Sample> {
  const ms: number[] = [];
  while (more(ms.length)) {
    const started = performance.now();
    await client.call(method);
    ms.push(performance.now() - started);
  }
  return summarize(ms);
}

function portOf(bench: Bench, channel: Channel): string {
  if (channel === "uart") return bench.board.uartPath;
  return channel === "http" ? bench.board.httpUrl : bench.board.httpUrl.replace(/^http/, "ws");
}

/** Seconds the line takes for `method`'s request and its reply (result text `result`) in mos framing. */
function wireMs(method: string, deviceId: string, result: string): number {
  const request = encodeMosFrame(encodeRequest({ src: "mos", id: TYPICAL_ID, method }));
  const reply = encodeMosFrame(`{"id":${TYPICAL_ID},"src":${JSON.stringify(deviceId)},"dst":"mos","result":${result}}`);
  return ((request.length + reply.length) * 10 * 1000) / BAUD;
}

/** A Node server on loopback answering RPC.Ping over HTTP and WebSocket, for the host-side anchor. */
async function loopbackPinger(): Promise<{ url: string; close(): Promise<void> }> {
  const answer = (json: string) => {
    const { id, src } = JSON.parse(json) as { id: number; src: string };
    return `{"id":${id},"src":"loopback","dst":${JSON.stringify(src)},"result":null}`;
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => res.writeHead(200, { "Content-Type": "application/json" }).end(answer(body)));
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => ws.on("message", (data) => ws.send(answer(String(data)))));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

interface ChannelRun {
  idlePing: Sample;
  idleBootState: Sample;
  loadedBootState: Sample;
  deviceId: string;
  pingResult: string;
  bootStateResult: string;
}

/** A fresh board: idle samples, then OTA.GetBootState while it pulls a package (it reboots after, so the board is not reused). */
async function measureChannel(channel: Channel, zip: Buffer): Promise<ChannelRun> {
  const bench = await startBench("real", { uartBaud: channel === "uart" ? BAUD : undefined });
  const server = await servePackages({ "/fw.zip": pacedFile(zip) });
  const client = new RpcClient(await openPort(portOf(bench, channel)), { timeoutMs: 15_000 });
  try {
    const deviceId = ((await bench.rpc.call("Sys.GetInfo")) as { id: string }).id;
    const pingResult = await client.callRaw("RPC.Ping");
    const bootStateResult = await client.callRaw("OTA.GetBootState");
    const idlePing = await timeCalls(client, "RPC.Ping", (n) => n < IDLE_CALLS[channel]);
    const idleBootState = await timeCalls(client, "OTA.GetBootState", (n) => n < IDLE_CALLS[channel]);
    let pulling = true;
    const pulled = bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 120_000 }).finally(() => (pulling = false));
    const loadedBootState = await timeCalls(client, "OTA.GetBootState", () => pulling);
    await pulled;
    return { idlePing, idleBootState, loadedBootState, deviceId, pingResult, bootStateResult };
  } finally {
    await client.close();
    await server.close();
    await bench.close();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

function channelFigures(channel: Channel, run: ChannelRun, loopbackPing?: Sample): Figure[] {
  const ping = run.idlePing;
  const load = run.loadedBootState;
  const pingLimit = channel === "uart" ? wireMs("RPC.Ping", run.deviceId, run.pingResult) : loopbackPing!.p50;
  const loadLimit = channel === "uart" ? wireMs("OTA.GetBootState", run.deviceId, run.bootStateResult) : run.idleBootState.p50;
  const pingLimitName =
    channel === "uart" ? `wire time of RPC.Ping's request and reply frames at ${BAUD} baud 8N1` : `p50 of RPC.Ping answered by a Node server on loopback (${channel})`;
  const loadLimitName =
    channel === "uart" ? `wire time of OTA.GetBootState's request and reply frames at ${BAUD} baud 8N1` : `p50 of OTA.GetBootState on the idle board (${channel})`;
  return [
    latencyFigure(`rpc-latency-${channel}-ping`, ping.p50, pingLimit, pingLimitName, {
      p50_ms: round(ping.p50),
      p99_ms: round(ping.p99),
      calls: ping.calls,
      ...(loopbackPing && { loopback_p99_ms: round(loopbackPing.p99) }),
    }),
    latencyFigure(`rpc-latency-${channel}-bootstate`, load.p99, loadLimit, loadLimitName, {
      under_download_p50_ms: round(load.p50),
      under_download_p99_ms: round(load.p99),
      under_download_calls: load.calls,
      idle_p50_ms: round(run.idleBootState.p50),
      idle_p99_ms: round(run.idleBootState.p99),
      download_bytes_per_second: DOWNLOAD_BYTES_PER_S,
    }),
  ];
}

/** A latency in ms against its anchor; lower is better. */
function latencyFigure(name: string, value: number, limit: number, limitName: string, detail: Record<string, unknown>): Figure {
  return { name, value: round(value), unit: "ms", limit: round(limit), limitName, ratio: value / limit, better: "lower", detail };
}

async function run(): Promise<Figure[]> {
  const zip = (await testFirmware()).v2.zip;
  const loopback = await loopbackPinger();
  const figures: Figure[] = [];
  try {
    for (const channel of CHANNELS) {
      let loopbackPing: Sample | undefined;
      if (channel !== "uart") {
        const client = new RpcClient(await openPort(channel === "http" ? loopback.url : loopback.url.replace(/^http/, "ws")));
        loopbackPing = await timeCalls(client, "RPC.Ping", (n) => n < IDLE_CALLS[channel]).finally(() => client.close());
      }
      figures.push(...channelFigures(channel, await measureChannel(channel, zip), loopbackPing));
    }
  } finally {
    await loopback.close();
  }
  return figures;
}

export const rpcLatency: Benchmark = { title: "RPC latency over UART, HTTP and WebSocket", run };

if (isMain(import.meta.url)) await runStandalone(rpcLatency);
