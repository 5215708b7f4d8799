// A bench for OTA tests: firmware versions built once per run, a fresh
// virtual board flashed with v1, an RPC client on its HTTP port, and a
// package server whose misbehaviour each test chooses.

import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { HttpTransport } from "../host/client/http-transport.ts";
import { RpcClient } from "../host/client/rpc-client.ts";
import { IMAGE_HASH_SIZE, parseAppImage } from "../host/fwpack/app-image.ts";
import { buildFwZip } from "../host/fwpack/fw-zip.ts";
import { ChipId, IMAGE_HEADER_OFFSETS } from "../host/fwpack/image-header.ts";
import { buildBoardProgram, writeFactoryFlash, type BoardBits } from "../host/vboard/assets.ts";
import { FAULTY_MAIN, buildFirmwarePackage, type FirmwarePackage } from "../host/vboard/firmware-package.ts";
import { MQTT_SUBSCRIBED, VirtualBoard, type ClockMode, type FlashTiming } from "../host/vboard/supervisor.ts";

export interface Firmware {
  v1: FirmwarePackage;
  v2: FirmwarePackage;
  crash: FirmwarePackage;
  hang: FirmwarePackage;
}

let firmware: Promise<Firmware> | undefined;

/** The firmware versions the OTA tests use, built once. */
export function testFirmware(): Promise<Firmware> {
  firmware ??= (async () => ({
    v1: await buildFirmwarePackage({ version: "1.0.0" }),
    v2: await buildFirmwarePackage({ version: "2.0.0" }),
    crash: await buildFirmwarePackage({ version: "2.0.1-crash", firmwareOverride: [["main", FAULTY_MAIN["crash-at-start"]]] }),
    hang: await buildFirmwarePackage({ version: "2.0.2-hang", firmwareOverride: [["main", FAULTY_MAIN.hang]] }),
  }))();
  return firmware;
}

/** What is wrong with the app image of faultyImagePackage(). */
export type ImageFault = "magic" | "chip" | "checksum" | "sha256";

/**
 * v2's package with one fault in its app image: first byte 0x12, built for
 * the ESP32-S3, the checksum byte flipped, or the appended SHA-256 changed.
 * The image's SHA-256 is appended anew for the other faults, and the
 * manifest's sizes and digests are made anew for all, so that the package's
 * own checks pass and only the image is wrong, in one way.
 */
export async function faultyImagePackage(fault: ImageFault): Promise<Buffer> {
  const { app, manifest } = (await testFirmware()).v2;
  const image = Buffer.from(app);
  const hashed = parseAppImage(image).imageLength - IMAGE_HASH_SIZE;
  if (fault === "magic") image[0] = 0x12;
  if (fault === "chip") image.writeUInt16LE(ChipId.ESP32S3, 12);
  if (fault === "checksum") image[hashed - 1]! ^= 0xff;
  if (fault === "sha256") image[hashed]! ^= 0x01;
  else createHash("sha256").update(image.subarray(0, hashed)).digest().copy(image, hashed);
  const src = manifest.parts.app!.src!;
  return buildFwZip({
    name: manifest.name!,
    platform: manifest.platform,
    version: manifest.version,
    buildId: manifest.build_id,
    modified: new Date(0),
    files: [{ part: "app", src, data: image, attrs: { type: "app" } }],
  }).zip;
}

/**
 * How v2's app file is laid out: as built (its SHA-256 appended, which
 * esp_ota_end checks against the flash), without an appended SHA-256 (the
 * header's hash_appended 0, the hash cut off), or as built with 16 bytes
 * after the image, which esp_ota_end never reads.
 */
export type AppLayout = "as built" | "no appended SHA-256" | "bytes after the image";

/** v2's app file in a layout; still a valid image that boots. */
export async function appInLayout(layout: AppLayout): Promise<Buffer> {
  const { app } = (await testFirmware()).v2;
  if (layout === "as built") return Buffer.from(app);
  if (layout === "bytes after the image") return Buffer.concat([app, Buffer.alloc(16, 0xa5)]);
  const image = Buffer.from(app.subarray(0, parseAppImage(app).imageLength - IMAGE_HASH_SIZE));
  image[IMAGE_HEADER_OFFSETS.hashAppended] = 0;
  return image;
}

export interface Bench {
  readonly board: VirtualBoard;
  readonly rpc: RpcClient;
  readonly dir: string;
  /** Console output since the bench started. */
  console(): string;
  /** Wait for the board to go down and come up again; resolves with the new boot's ready info. */
  nextBoot(timeoutMs?: number): Promise<void>;
  /** Resolve when the running boot's MQTT subscriptions are acknowledged (the bench needs an mqttUrl). */
  mqttReady(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface BenchOptions {
  /** Broker for the board's MQTT connection; startBench then waits until the device is subscribed there. */
  mqttUrl?: string;
  /** The board build (default: what this machine runs, see boardBits()). */
  bits?: BoardBits;
  /** The board's flash timing model (VirtualBoardOptions.flashTiming). */
  flashTiming?: FlashTiming;
  /** A command the board program runs under (VirtualBoardOptions.launcher). */
  launcher?: readonly string[];
  /** Extra environment for the board process (VB_TASK_WDT_S, ...). */
  env?: NodeJS.ProcessEnv;
  /** How long the first boot may take to be ready (a board under valgrind is slow). */
  readyTimeoutMs?: number;
  /** The UART's baud rate (VirtualBoardOptions.uartBaud); default unpaced. */
  uartBaud?: number;
}

export async function startBench(clock: ClockMode = "virtual", options: BenchOptions = {}): Promise<Bench> {
  const fw = await testFirmware();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-bench-"));
  const flashPath = path.join(dir, "flash.bin");
  writeFactoryFlash(flashPath, fw.v1.app);
  const board = new VirtualBoard({
    binary: buildBoardProgram(options.bits),
    flashPath,
    httpPort: 0,
    uartLink: path.join(dir, "uart"),
    clock,
    mqttUrl: options.mqttUrl,
    flashTiming: options.flashTiming,
    launcher: options.launcher,
    env: options.env,
    uartBaud: options.uartBaud,
  });
  let log = "";
  board.on("console", (t) => (log += t));
  // Where the running boot's console starts: the next boot's output comes after a boot-end.
  let bootStart = 0;
  board.on("boot-end", () => (bootStart = log.length));
  const mqttReady = async (timeoutMs = 15_000) => {
    if (!options.mqttUrl) throw new Error("this bench has no MQTT broker");
    const deadline = Date.now() + timeoutMs;
    // The firmware logs its SUBACK: from then on it can be called over MQTT.
    while (!(board.isReady && log.includes(MQTT_SUBSCRIBED, bootStart))) {
      if (Date.now() > deadline) throw new Error(`the board did not subscribe on ${options.mqttUrl} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await board.start();
  await board.waitReady(options.readyTimeoutMs);
  if (options.mqttUrl) await mqttReady();
  const rpc = new RpcClient(new HttpTransport(new URL(board.httpUrl)), { timeoutMs: 15_000 });
  return {
    board,
    rpc,
    dir,
    console: () => log,
    nextBoot: async (timeoutMs = 30_000) => {
      if (board.isReady) await new Promise((resolve) => board.once("boot-end", resolve));
      await board.waitReady(timeoutMs);
    },
    mqttReady,
    close: async () => {
      await rpc.close();
      await board.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How the package server answers one request. */
export type Serve = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface PackageServer {
  readonly url: string;
  /** Requests seen: method, path and Range header. */
  readonly requests: Array<{ path: string; range?: string }>;
  close(): Promise<void>;
}

export async function servePackages(routes: Record<string, Serve>): Promise<PackageServer> {
  const requests: Array<{ path: string; range?: string }> = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? "", range: req.headers.range });
    const route = routes[req.url ?? ""];
    if (route) route(req, res);
    else res.writeHead(404).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve a file the plain way, honouring Range like any static server. */
export function file(bytes: Buffer): Serve {
  return (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m && Number(m[1]) < bytes.length) {
      const from = Number(m[1]);
      res.writeHead(206, { "Content-Length": bytes.length - from, "Content-Range": `bytes ${from}-${bytes.length - 1}/${bytes.length}` });
      res.end(bytes.subarray(from));
    } else {
      res.writeHead(200, { "Content-Length": bytes.length });
      res.end(bytes);
    }
  };
}
