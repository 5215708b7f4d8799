// The board under fuzzing: a virtual board (host/vboard/supervisor.ts) on the
// virtual clock, flashed with v1 of the firmware, with what the oracle
// needs around it: every boot end seen, the console kept (bounded) with
// absolute offsets so a finding can quote the lines around it, an RPC
// client on its HTTP port for the state checks, and a way back to a fresh
// board (flash rewritten: otadata, NVS and both slots as from the factory).
//
// The firmware is built with a fixed build time, so a case that carries a
// package reproduces byte for byte from (seed, transport, case) as long as
// the firmware sources are the same.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HttpTransport } from "../client/http-transport.ts";
import { RpcClient } from "../client/rpc-client.ts";
import { compilerDateTime } from "../fwpack/app-desc.ts";
import { packageAppImage } from "../fwpack/app-package.ts";
import type { BuiltFwZip } from "../fwpack/fw-zip.ts";
import { buildVirtualBoardImage } from "../fwpack/virtual-board-image.ts";
import { MANIFEST, REPO_ROOT, buildBoardProgram, writeFactoryFlash } from "../vboard/assets.ts";
import { buildFirmwarePackage, type FirmwarePackage } from "../vboard/firmware-package.ts";
import { MQTT_SUBSCRIBED, VirtualBoard, type BootEnd } from "../vboard/supervisor.ts";

export interface FuzzFirmware {
  /** Where the sources came from: the work tree, HEAD, or a manifest path. */
  readonly source: string;
  /** Flashed at every fresh start. */
  readonly v1: FirmwarePackage;
  /** The package the package generators mutate (a real build of the firmware). */
  readonly v2: FirmwarePackage;
  /** A valid package around a one-module image of a few hundred bytes: mutations of it cost one or two writes. */
  readonly tiny: BuiltFwZip & { app: Buffer };
}

/** Build time of every fuzz image: fixed, so packages are the same in every run. */
const BUILT_AT = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));

/**
 * The firmware to fuzz. "tree": this work tree's sources (what `make test`
 * builds); "head": the last commit's, exported read-only with git archive (for
 * when the work tree is between edits); else the path of a manifest.json.
 */
export async function loadFirmware(source = "tree"): Promise<FuzzFirmware> {
  let manifestPath = MANIFEST;
  if (source === "head") {
    const dir = path.join(REPO_ROOT, "build/fuzz/head-src");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const tar = execFileSync("git", ["-C", REPO_ROOT, "archive", "HEAD", "manifest.json", "main.ts", "modules"], { maxBuffer: 1 << 28 });
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
    manifestPath = path.join(dir, "manifest.json");
  } else if (source !== "tree") {
    manifestPath = path.resolve(source);
  }
  const v1 = await buildFirmwarePackage({ version: "1.0.0", builtAt: BUILT_AT, manifestPath });
  const v2 = await buildFirmwarePackage({ version: "2.0.0", builtAt: new Date(BUILT_AT.getTime() + 1000), manifestPath });
  const { date, time } = compilerDateTime(BUILT_AT);
  const tinyApp = buildVirtualBoardImage({ version: "2.0.0-tiny", projectName: "xs-ota", date, time, modules: [["main", 'trace("xs-ota fuzz: tiny image\\n");\n']] });
  const tiny = { ...packageAppImage(tinyApp), app: tinyApp };
  return { source, v1, v2, tiny };
}

/** The console of a running board, bounded, with absolute offsets. */
class ConsoleLog {
  #text = "";
  /** Absolute offset of #text[0]. */
  #base = 0;
  static readonly KEEP = 4 << 20;

  append(text: string): void {
    this.#text += text;
    if (this.#text.length > ConsoleLog.KEEP * 2) {
      const drop = this.#text.length - ConsoleLog.KEEP;
      this.#text = this.#text.slice(drop);
      this.#base += drop;
    }
  }

  get end(): number {
    return this.#base + this.#text.length;
  }

  /** Text from absolute offset `from` (clamped to what is kept). */
  since(from: number): string {
    return this.#text.slice(Math.max(0, from - this.#base));
  }

  /** The last `n` lines before absolute offset `to` and everything after it. */
  around(from: number, before = 15, maxLines = 60): string[] {
    const head = this.#text.slice(0, Math.max(0, from - this.#base)).split("\n").slice(-before - 1, -1);
    const tail = this.since(from).split("\n");
    const lines = [...head, ...tail].filter((l) => l.trim() !== "");
    return lines.length > maxLines ? [...lines.slice(0, maxLines - 10), `... ${lines.length - maxLines} lines ...`, ...lines.slice(-10)] : lines;
  }
}

export interface BoardMark {
  readonly bootCount: number;
  readonly bootEnds: number;
  readonly console: number;
}

export class FuzzBoard {
  readonly board: VirtualBoard;
  readonly fw: FuzzFirmware;
  readonly rpc: RpcClient;
  readonly dir: string;
  readonly flashPath: string;
  readonly mqttUrl: string | undefined;
  readonly log = new ConsoleLog();
  /** Every boot end since the start, in order. */
  readonly bootEnds: BootEnd[] = [];
  deviceId = "";
  /** Where the running boot's console starts. */
  #bootStart = 0;

  private constructor(fw: FuzzFirmware, mqttUrl: string | undefined) {
    this.fw = fw;
    this.mqttUrl = mqttUrl;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-fuzz-"));
    this.flashPath = path.join(this.dir, "flash.bin");
    writeFactoryFlash(this.flashPath, fw.v1.app);
    this.board = new VirtualBoard({ binary: buildBoardProgram(), flashPath: this.flashPath, httpPort: 0, uartLink: path.join(this.dir, "uart"), clock: "virtual", mqttUrl });
    this.board.on("console", (t) => this.log.append(t));
    this.board.on("boot-end", (end) => {
      this.bootEnds.push(end);
      this.log.append(`[fuzz] boot ${this.board.bootCount} ended: ${end.meaning}${end.reason ? ` (${end.reason})` : ""}\n`);
      this.#bootStart = this.log.end;
    });
    this.board.on("error", (e) => this.log.append(`[fuzz] board error: ${e.message}\n`));
    this.rpc = new RpcClient(new HttpTransport(new URL(this.board.httpUrl)), { timeoutMs: 5000 });
  }

  static async start(fw: FuzzFirmware, options: { mqttUrl?: string } = {}): Promise<FuzzBoard> {
    const b = new FuzzBoard(fw, options.mqttUrl);
    await b.board.start();
    // The HTTP port is settled by start(); the client was made with the requested 0.
    (b as { rpc: RpcClient }).rpc = new RpcClient(new HttpTransport(new URL(b.board.httpUrl)), { timeoutMs: 5000 });
    await b.up();
    return b;
  }

  get httpUrl(): string {
    return this.board.httpUrl;
  }

  mark(): BoardMark {
    return { bootCount: this.board.bootCount, bootEnds: this.bootEnds.length, console: this.log.end };
  }

  /** Boot ends since `mark`. */
  endsSince(mark: BoardMark): BootEnd[] {
    return this.bootEnds.slice(mark.bootEnds);
  }

  /** Ready, and (with a broker) subscribed: callable on every channel. */
  async up(timeoutMs = 20_000): Promise<void> {
    const info = await this.board.waitReady(timeoutMs);
    this.deviceId = info.deviceId;
    if (!this.mqttUrl) return;
    const deadline = Date.now() + timeoutMs;
    while (!(this.board.isReady && this.log.since(this.#bootStart).includes(MQTT_SUBSCRIBED))) {
      if (Date.now() > deadline) throw new Error(`the board did not subscribe on ${this.mqttUrl} within ${timeoutMs / 1000} s`);
      await sleep(10);
    }
  }

  /** Power off, rewrite the flash as from the factory (v1 in slot 0), boot. */
  async fresh(): Promise<void> {
    await this.board.powerOff();
    writeFactoryFlash(this.flashPath, this.fw.v1.app);
    this.#bootStart = this.log.end;
    this.board.boot({ reason: "poweron" });
    await this.up();
  }

  /**
   * Move the board's clock so that what the last cases armed (reboots after
   * 100-500 ms, lingering closes after 2 s, the OTA watchdog) comes due.
   * Steps, so that the board's sockets are served between timers.
   */
  async advance(totalMs: number, stepMs = 500): Promise<void> {
    for (let done = 0; done < totalMs && this.board.isReady; done += stepMs) {
      await Promise.race([this.board.advanceClock(Math.min(stepMs, totalMs - done)), sleep(3000)]);
    }
  }

  async close(): Promise<void> {
    await this.rpc.close();
    await this.board.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reject with `what` after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms))),
  ]);
}
