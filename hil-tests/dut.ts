// The device under test, the same to every HIL test whether it is the
// virtual board or a real one on a serial port: RPC over its UART (what
// every board has), its console, reset, power cycle, flashing, and time.

import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RpcClient, type CallOptions } from "../host/client/rpc-client.ts";
import { SerialTransport } from "../host/client/serial-transport.ts";
import { flashBoard } from "../host/flash/esp-flasher.ts";
import { planFlash } from "../host/flash/flash-plan.ts";
import { REPO_ROOT, buildBoardProgram, writeFactoryFlash } from "../host/vboard/assets.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "../host/vboard/embedded-broker.ts";
import { VirtualBoard } from "../host/vboard/supervisor.ts";
import type { RigBoard } from "./rig.ts";

export interface Dut {
  readonly board: RigBoard;
  /** Call a method over the UART; resolves with its result. */
  rpc(method: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  /** Console text since the last mark (see markConsole). */
  console(): string;
  /** Start a new console section (each test gets its own log). */
  markConsole(): void;
  /** Resolve when the console, since the mark, matches. */
  expect(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Let `ms` of the board's time pass (virtual: the clock jumps; real: we wait). */
  pass(ms: number): Promise<void>;
  /** Press reset and wait until the firmware is up again. */
  reset(): Promise<void>;
  /** Off and on again (power commands on a real board). */
  powerCycle(): Promise<void>;
  /** Write a factory image of `app` (a virtual-board or ESP32 app image) and boot it. */
  flash(app: Buffer): Promise<void>;
  /** Wait until the firmware answers RPC again (after a reboot it caused itself). */
  waitUp(timeoutMs?: number): Promise<void>;
  /** Whether OTA.Update can reach a server on this computer. */
  readonly hasNetwork: boolean;
  /** Ports (xs-ota --port URLs) that reach the firmware over the network: HTTP, WebSocket, MQTT. */
  readonly networkPorts: readonly string[];
  close(): Promise<void>;
}

const READY = /RPC ready on UART0/;

/** Console capture shared by both kinds of board. */
class ConsoleLog {
  #text = "";
  #mark = 0;
  #waiters = new Set<() => void>();
  add(text: string): void {
    this.#text += text;
    for (const w of this.#waiters) w();
  }
  since(): string {
    return this.#text.slice(this.#mark);
  }
  mark(): void {
    this.#mark = this.#text.length;
  }
  expect(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.since().match(re);
        if (!m) return;
        cleanup();
        resolve(m);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`console did not show ${re} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** What both kinds of board do the same: keep the console and answer questions about it. */
abstract class ConsoleCapture {
  protected readonly log = new ConsoleLog();
  console(): string {
    return this.log.since();
  }
  markConsole(): void {
    this.log.mark();
  }
  expect(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return this.log.expect(re, timeoutMs);
  }
}

async function retryUntil(what: string, timeoutMs: number, probe: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The virtual board, on a virtual clock, driven over its UART pseudo-terminal. */
export class VirtualDut extends ConsoleCapture implements Dut {
  readonly hasNetwork = true;
  networkPorts: readonly string[] = [];
  readonly #dir: string;
  readonly #vboard: VirtualBoard;
  readonly #broker: EmbeddedBroker;
  #client: RpcClient | undefined;

  private constructor(readonly board: RigBoard, dir: string, vboard: VirtualBoard, broker: EmbeddedBroker) {
    super();
    this.#dir = dir;
    this.#vboard = vboard;
    this.#broker = broker;
    vboard.on("console", (t) => this.log.add(t));
  }

  /** The board with an MQTT broker of its own, as `xs-ota sim` runs it. */
  static async start(board: RigBoard, app: Buffer): Promise<VirtualDut> {
    const binary = buildBoardProgram();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `xs-ota-hil-${board.id}-`));
    writeFactoryFlash(path.join(dir, "flash.bin"), app);
    const broker = await startEmbeddedBroker();
    const vboard = new VirtualBoard({
      binary,
      flashPath: path.join(dir, "flash.bin"),
      httpPort: 0,
      uartLink: path.join(dir, "uart"),
      clock: "virtual",
      mqttUrl: broker.url,
    });
    const dut = new VirtualDut(board, dir, vboard, broker);
    await vboard.start();
    const { deviceId } = await vboard.waitReady();
    const http = vboard.httpUrl;
    dut.networkPorts = [http, http.replace(/^http:/, "ws:"), `${broker.url}/${deviceId}`];
    return dut;
  }

  /** Over the UART's pseudo-terminal, which stays the same across resets, as a USB-serial chip does. */
  async rpc(method: string, params?: unknown, options?: CallOptions): Promise<unknown> {
    this.#client ??= new RpcClient(await SerialTransport.open({ path: this.#vboard.uartPath }), { timeoutMs: 10_000 });
    return this.#client.call(method, params, options);
  }
  async pass(ms: number): Promise<void> {
    await this.#vboard.advanceClock(ms);
  }
  async waitUp(timeoutMs = 30_000): Promise<void> {
    await retryUntil("the board did not come back", timeoutMs, async () => {
      if (!this.#vboard.isReady) throw new Error("not ready");
      await this.rpc("RPC.Ping", undefined, { timeoutMs: 2_000 });
    });
  }
  async reset(): Promise<void> {
    await this.#vboard.reset({ reason: "poweron" });
    await this.waitUp();
  }
  powerCycle(): Promise<void> {
    return this.reset();
  }
  async flash(app: Buffer): Promise<void> {
    await this.#vboard.powerOff();
    writeFactoryFlash(this.#vboard.options.flashPath, app);
    this.#vboard.boot({ reason: "poweron" });
    await this.waitUp();
  }
  async close(): Promise<void> {
    await this.#client?.close();
    await this.#vboard.stop();
    await this.#broker.close();
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A real board on a serial port: RPC and console share the UART, as on the device. */
export class SerialDut extends ConsoleCapture implements Dut {
  readonly hasNetwork = false;
  get networkPorts(): readonly string[] {
    return this.board.ports ?? [];
  }
  #transport: SerialTransport;
  #client: RpcClient;

  private constructor(readonly board: RigBoard, transport: SerialTransport) {
    super();
    this.#transport = transport;
    this.#client = this.#attach(transport);
  }

  static async open(board: RigBoard): Promise<SerialDut> {
    return new SerialDut(board, await SerialDut.#openPort(board));
  }

  static #openPort(board: RigBoard): Promise<SerialTransport> {
    return SerialTransport.open({ path: board.port!, baudRate: board.baud });
  }

  #attach(transport: SerialTransport): RpcClient {
    transport.onLog = (line) => this.log.add(line + "\n");
    return new RpcClient(transport, { timeoutMs: 10_000 });
  }

  rpc(method: string, params?: unknown, options?: CallOptions): Promise<unknown> {
    return this.#client.call(method, params, options);
  }
  pass(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
  async waitUp(timeoutMs = 60_000): Promise<void> {
    await retryUntil("the board did not come back", timeoutMs, () => this.rpc("RPC.Ping", undefined, { timeoutMs: 3_000 }));
  }
  async reset(): Promise<void> {
    if (this.board.reset !== "rts") return this.powerCycle();
    // EN is wired to RTS through the auto-reset transistors: pulse it low, GPIO0 (DTR) left high.
    await this.#transport.setSignals({ dtr: false, rts: true });
    await new Promise((r) => setTimeout(r, 100));
    await this.#transport.setSignals({ dtr: false, rts: false });
    await this.log.expect(READY, 30_000).catch(() => undefined);
    await this.waitUp();
  }
  async powerCycle(): Promise<void> {
    if (!this.board.power) throw new Error(`board ${this.board.id} has no power commands in the rig inventory`);
    execSync(this.board.power.off, { stdio: "inherit" });
    await new Promise((r) => setTimeout(r, 1000));
    execSync(this.board.power.on, { stdio: "inherit" });
    await this.waitUp();
  }
  /** Through the ROM loader, as `xs-ota flash` does: the port is handed to esptool-js and back. */
  async flash(app: Buffer): Promise<void> {
    await this.#client.close();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `xs-ota-hil-flash-`));
    try {
      const appFile = path.join(dir, "app.bin");
      fs.writeFileSync(appFile, app);
      const csv = fs.readFileSync(path.join(REPO_ROOT, "boards", this.board.target, "partitions.csv"), "utf8");
      const plan = await planFlash({ paths: [appFile], partitionsCsv: csv, defaultApp: async () => app });
      await flashBoard({ port: this.board.port!, baudRate: 460800, images: plan.images, chipId: plan.chipId, eraseAll: false, connectAttempts: 3 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      this.#transport = await SerialDut.#openPort(this.board);
      this.#client = this.#attach(this.#transport);
    }
    await this.waitUp();
  }
  async close(): Promise<void> {
    await this.#client.close();
  }
}
