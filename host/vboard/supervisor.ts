// The virtual board's supervisor: it owns what outlives a reset on a bench
// (the USB-serial chip's pseudo-terminal, the flash file, the board's HTTP
// port number) and runs one board process per boot, booting again after
// every reset, as power and a reset button would. It relays nothing above
// TCP: the firmware's own HTTP server, WebSocket server, MQTT and HTTP
// clients run on the board over the XS host's sockets (host/vboard/xs/).

import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { checkBoardProgram } from "./assets.ts";
import { DownloadMode } from "./download-mode.ts";
import { LinkDecoder, encodeLinkFrame, type LinkFrame } from "./link-codec.ts";
import { AutoResetCircuit, type BootMode } from "./rfc2217/auto-reset.ts";
import { ComPortServer } from "./rfc2217/com-port-server.ts";
import { UartTrace } from "./uart-trace.ts";
import { pacedLine, type PacedLine } from "./uart-pacer.ts";

export type ResetReason = "poweron" | "sw" | "panic" | "rtcwdt";

/** What the firmware logs once its broker acknowledged its subscriptions (net/mqtt-client): callable over MQTT from then on. */
export const MQTT_SUBSCRIBED = "mqtt: subscribed to ";
export type ClockMode = "real" | "virtual";

export interface VirtualBoardOptions {
  /** The board binary (build/vboard/vboard). */
  binary: string;
  flashPath: string;
  /** TCP port of the board's HTTP server on 127.0.0.1; 0 picks a free one, the same for every boot. */
  httpPort: number;
  /** Stable path (a symlink) of the UART's pseudo-terminal. */
  uartLink: string;
  clock: ClockMode;
  /** Broker the board's MQTT client connects to (mqtt://host:port); none: the board has no MQTT. */
  mqttUrl?: string;
  /** More build settings for the board's mc/config (as make esp32 MC_CONFIG sets them on a device). */
  config?: Readonly<Record<string, string | number>>;
  /** Extra environment for the board process (tests read statistics through it). */
  env?: NodeJS.ProcessEnv;
  /** Cap on the XS heap in bytes, what Sys.GetInfo reports as ram_size (default 320 KiB: see DEFAULT_MEM_LIMIT). */
  memLimit?: number;
  /**
   * The UART's baud rate (8N1, both directions, with a USB-serial chip's
   * latency: uart-pacer.ts), on the host's real time; none: bytes pass as
   * fast as the pseudo-terminal moves them.
   */
  uartBaud?: number;
  /** The ROM's download mode (download-mode.ts): quiet time before it resets, and a write fault for tests. */
  download?: { idleResetMs?: number; flipByteAt?: number };
  /**
   * Serve the UART over RFC 2217 on this TCP port of 127.0.0.1 (0 picks a
   * free one), with the DTR/RTS auto-reset circuit of a DevKitC behind it:
   * esptool's resets work as on a bench. Undefined: no server.
   */
  rfc2217Port?: number;
  /** Record every UART byte and line change to this file (uart-trace.ts). */
  uartTrace?: string;
  /** Flash operations take a W25Q32JV's typical times on the board's clock (idf/README.md, "Flash timing"); default off. */
  flashTiming?: FlashTiming;
  /** A command the board program runs under, e.g. ["valgrind", "--tool=callgrind"] (bench/work-per-byte.ts). */
  launcher?: readonly string[];
}

export type FlashTiming = "off" | "typical";

/** The board's answer to flashStats(): its clock, and what the flash did since boot with the timing model's time for it. */
export interface FlashStats {
  /** The board's clock (esp_timer_get_time), microseconds since boot. */
  readonly now_us: number;
  readonly ops: number;
  readonly writes: number;
  readonly write_bytes: number;
  readonly erases: number;
  readonly erased_bytes: number;
  readonly reads: number;
  readonly read_bytes: number;
  /** Modelled time of the erases, programs and reads, nanoseconds (counted whether or not flashTiming is on). */
  readonly erase_ns: number;
  readonly program_ns: number;
  readonly read_ns: number;
}

/**
 * An ESP32's 320 KiB of DRAM. The board parses its modules at boot, so their
 * functions take XS slots that a device keeps in flash (preloaded): the cap
 * is generous to the firmware, not tight.
 */
const DEFAULT_MEM_LIMIT = 320 * 1024;

export interface BootOptions {
  reason?: ResetReason;
  /** Lose power at flash operation N of this boot (N-1 operations are applied). */
  powerCutAt?: number;
  /** That operation is half applied first (PowerCut.torn). */
  powerCutTorn?: boolean;
  /** GPIO0 held low: the ROM waits in download mode for a flasher instead of booting. */
  downloadMode?: boolean;
}

/** A network fault for the board's TCP connections (host/vboard/xs/README.md, "Network faults"). */
export type NetworkFault =
  | { op: "shape"; port?: number; latency_ms?: number; bytes_per_s?: number }
  | { op: "stall" | "resume" | "drop" | "reset" | "refuse" | "allow"; port?: number }
  | { op: "clear" | "list" };

/** The board's answer: how many connections or listeners the fault met (or, for list, the state). */
export interface NetworkAnswer {
  readonly matched?: number;
  readonly connections?: ReadonlyArray<Record<string, unknown>>;
  readonly listeners?: ReadonlyArray<Record<string, unknown>>;
  readonly pcbs?: number;
}

/** A power cut for the running boot (host/vboard/xs/README.md, "Power cuts"). */
export interface PowerCut {
  /** The after-th flash operation from now loses power: after-1 more are applied. 0 disarms. */
  after: number;
  /** The cut operation is half applied first: a write's first half of bytes, an erase's first half of each 4 KB sector. */
  torn?: boolean;
}

/** The board's answer to armPowerCut: operations so far, and the one that loses power (0: none), both counted from the boot. */
export interface ArmedPowerCut {
  readonly ops: number;
  readonly cut_at: number;
  readonly torn: boolean;
}

/** How a boot ended: the board's exit code (see host/vboard/README.md). */
export interface BootEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly meaning: string;
  /** Why it went down, when it said: a panic's "Guru Meditation: ..." line, or the task watchdog's. */
  readonly reason?: string;
  /** When the next boot starts, in ms from now (undefined: the board stays off). */
  readonly nextBootMs?: number;
  /** Flash operations the boot applied, when it ended by itself (a restart, a panic): not after a power cut or a kill. */
  readonly flashOps?: number;
}

const EXIT_MEANING: Record<number, string> = {
  0: "halted",
  2: "emulator usage error",
  3: "software restart",
  4: "power cut",
  5: "no bootable app",
  6: "firmware panic",
};

/** After a boot ended with this code, boot again with this reset reason (undefined: stay off). */
const NEXT_BOOT: Record<number, ResetReason | undefined> = { 3: "sw", 4: "poweron", 5: "poweron", 6: "panic" };

/** The ROM loops on an unbootable flash; a pause keeps that loop from eating a core. */
const NO_APP_RETRY_MS = 1000;

/**
 * A firmware that panics at every boot: the first panic reboots at once (a
 * trial image that crashes must roll back without delay), each further one
 * in a row waits longer, up to the last figure, so a boot loop is a few
 * lines a second, not thousands. A boot that ran STABLE_BOOT_MS ends the run.
 */
const PANIC_BACKOFF_MS = [0, 250, 500, 1000, 2000, 4000, 8000];
const STABLE_BOOT_MS = 5000;

export interface ReadyInfo {
  readonly deviceId: string;
  readonly version: string;
}

export declare interface VirtualBoard {
  on(event: "console", listener: (text: string) => void): this;
  on(event: "ready", listener: (info: ReadyInfo) => void): this;
  on(event: "boot-end", listener: (end: BootEnd) => void): this;
  on(event: "download-mode", listener: () => void): this;
  on(event: "error", listener: (e: Error) => void): this;
}

export class VirtualBoard extends EventEmitter {
  readonly options: VirtualBoardOptions;
  #socat: ChildProcess | undefined;
  /** The HTTP port every boot listens on, settled at start. */
  #httpPort: number | undefined;
  #board: ChildProcess | undefined;
  #ready: ReadyInfo | undefined;
  #stopping = false;
  #bootCount = 0;
  #txBlocked = false;
  /** Callers of advanceClock waiting for the board to have run the window, in order. */
  #clockWaiters: Array<() => void> = [];
  /** Callers of network(), armPowerCut() and flashOps() waiting for the board's answer, by request id. */
  readonly #requests = new Map<number, { what: string; resolve: (answer: LinkFrame["message"]) => void; reject: (e: Error) => void }>();
  #nextRequestId = 1;
  /** The flash operation count the running boot reported as it exited. */
  #flashOpsAtExit: number | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #download: DownloadMode;
  readonly #resetCircuit: AutoResetCircuit;
  #comPort: ComPortServer | undefined;
  #trace: UartTrace | undefined;
  /** The UART's two directions: host to board, board to host. */
  readonly #toBoard: PacedLine;
  readonly #toHost: PacedLine;
  #bootStartedAt = 0;
  #panicsInARow = 0;
  /** The last panic headline the running boot wrote on its diagnostics (stderr). */
  #lastDiagnostic: string | undefined;

  constructor(options: VirtualBoardOptions) {
    super();
    this.options = options;
    this.#toBoard = pacedLine(options.uartBaud, (bytes) => this.#uartRx(bytes));
    this.#toHost = pacedLine(options.uartBaud, (bytes) => this.#uartOut(bytes));
    this.#download = new DownloadMode({
      flashPath: options.flashPath,
      idleResetMs: options.download?.idleResetMs,
      fault: { flipByteAt: options.download?.flipByteAt },
      transmit: (bytes) => this.#uartWrite(bytes),
      print: (text) => this.#uartTx(Buffer.from(text, "utf8")),
      note: (line) => this.emit("console", `[rom] ${line}\n`),
      boot: (why) => {
        this.emit("console", `[rom] leaving download mode: ${why}\n`);
        this.boot({ reason: "poweron" });
      },
    });
    this.#resetCircuit = new AutoResetCircuit({
      hold: () => {
        this.emit("console", "[sim] EN low: the board is held in reset\n");
        void this.powerOff();
      },
      release: (mode: BootMode) => {
        this.emit("console", `[sim] EN high, GPIO0 ${mode === "download" ? "low: download mode" : "high: boot from flash"}\n`);
        // An EN reset is a power-on reset to the ESP32 (rst:0x1 POWERON_RESET).
        this.boot({ reason: "poweron", downloadMode: mode === "download" });
      },
    });
  }

  /** The TCP port serving the UART over RFC 2217, when it is served (options.rfc2217Port). */
  get rfc2217Port(): number | undefined {
    return this.#comPort?.port;
  }

  /** The same as an RFC 2217 URL, as esptool and pySerial take it. */
  get rfc2217Url(): string | undefined {
    return this.#comPort && `rfc2217://127.0.0.1:${this.rfc2217Port}`;
  }

  /** The HTTP RPC URL (the --port of xs-ota). */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.#httpPort ?? this.options.httpPort}/rpc`;
  }

  /** The pseudo-terminal's stable path. */
  get uartPath(): string {
    return this.options.uartLink;
  }

  get bootCount(): number {
    return this.#bootCount;
  }

  get isReady(): boolean {
    return this.#ready !== undefined;
  }

  /** Check that the board program runs, settle the HTTP port, open the pseudo-terminal, then boot. */
  async start(boot: BootOptions = {}): Promise<void> {
    checkBoardProgram(this.options.binary);
    this.#httpPort = await freePort(this.options.httpPort);
    await this.#openUart();
    if (this.options.uartTrace) this.#trace = new UartTrace(this.options.uartTrace);
    if (this.options.rfc2217Port !== undefined) await this.#serveComPort(this.options.rfc2217Port);
    this.boot(boot);
  }

  async #serveComPort(port: number): Promise<void> {
    const server = new ComPortServer();
    await server.listen(port);
    this.#comPort = server;
    server.on("data", (bytes) => this.#toBoard.write(bytes));
    server.on("lines", (lines) => {
      this.#trace?.lines(lines);
      this.#resetCircuit.set(lines);
    });
    server.on("connect", (peer) => {
      this.#trace?.port("open");
      this.emit("console", `[sim] RFC 2217 client ${peer} connected\n`);
    });
    server.on("disconnect", () => this.#trace?.port("closed"));
  }

  async #openUart(): Promise<void> {
    const link = this.options.uartLink;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { force: true });
    const socat = spawn("socat", [`PTY,link=${link},raw,echo=0`, "STDIO"], { stdio: ["pipe", "pipe", "inherit"] });
    this.#socat = socat;
    await new Promise<void>((resolve, reject) => {
      socat.once("error", (e) => reject(new Error(`cannot start socat for the UART (make setup installs it): ${e.message}`)));
      const deadline = Date.now() + 5000;
      const poll = () => {
        if (fs.existsSync(link)) resolve();
        else if (socat.exitCode !== null || Date.now() > deadline) reject(new Error("socat did not create the UART's pseudo-terminal"));
        else setTimeout(poll, 10);
      };
      poll();
    });
    (socat.stdout as Readable).on("data", (chunk: Buffer) => this.#toBoard.write(chunk));
    (socat.stdin as Writable).on("drain", () => (this.#txBlocked = false));
    (socat.stdin as Writable).on("error", () => {});
  }

  /** The board's build settings, its mc/config: the HTTP port and the broker come from here. */
  #config(): string {
    const config: Record<string, string | number> = { httpPort: this.#httpPort ?? this.options.httpPort, ...this.options.config };
    if (this.options.mqttUrl) config.mqttServer = new URL(this.options.mqttUrl).host;
    return JSON.stringify(config);
  }

  /** Start one boot of the board process (or, with downloadMode, of the ROM's serial loader). */
  boot(options: BootOptions = {}): void {
    if (this.#board || this.#stopping || this.#resetCircuit.inReset) return;
    this.#download.close();
    if (options.downloadMode) {
      this.#download.enter();
      this.emit("download-mode");
      return;
    }
    const args = ["--flash", this.options.flashPath, "--clock", this.options.clock, "--reset-reason", options.reason ?? "poweron"];
    args.push("--mem-limit", String(this.options.memLimit ?? DEFAULT_MEM_LIMIT), "--config", this.#config());
    if (options.powerCutAt !== undefined) args.push("--power-cut-at", String(options.powerCutAt), "--power-cut-mode", options.powerCutTorn ? "torn" : "clean");
    if (this.options.flashTiming) args.push("--flash-timing", this.options.flashTiming);
    const [program, ...programArgs] = [...(this.options.launcher ?? []), this.options.binary, ...args];
    const board = spawn(program!, programArgs, {
      stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"],
      env: { ...process.env, ...this.options.env },
    });
    this.#board = board;
    this.#bootCount++;
    this.#bootStartedAt = Date.now();
    this.#lastDiagnostic = undefined;
    this.#flashOpsAtExit = undefined;
    const decoder = new LinkDecoder();
    board.stdout!.on("data", (chunk: Buffer) => this.#uartTx(chunk));
    board.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      // The panic's headline ("Guru Meditation: ...", "vboard: task watchdog: ..."), not the stack under it.
      const headline = text.split("\n").find((line) => /^(Guru Meditation|vboard): /.test(line));
      if (headline) this.#lastDiagnostic = headline;
      this.emit("console", `[vboard] ${text}`);
    });
    (board.stdio[4] as Readable).on("data", (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) this.#linkMessage(frame);
    });
    for (const s of [board.stdin!, board.stdio[3] as Writable]) s.on("error", () => {});
    board.on("error", (e) => this.emit("error", new Error(`cannot run the board ${this.options.binary}: ${e.message}`)));
    // "close", not "exit": what the board wrote last (its link report, a panic's headline) has been read by then.
    board.on("close", (code, signal) => this.#boardExited(board, code, signal));
  }

  #uartTx(chunk: Buffer): void {
    this.emit("console", chunk.toString("utf8"));
    this.#uartWrite(chunk);
  }

  #uartWrite(chunk: Buffer): void {
    this.#toHost.write(chunk);
  }

  /** What leaves the (paced) line reaches both of the host's ends: the pseudo-terminal and an RFC 2217 client. */
  #uartOut(chunk: Buffer): void {
    this.#trace?.tx(chunk);
    this.#comPort?.write(chunk);
    if (this.#txBlocked) return;
    this.#txBlocked = !(this.#socat?.stdin as Writable | undefined)?.write(chunk);
  }

  /**
   * Bytes typed into the terminal reach the board while it runs; while it
   * reboots they are lost, as on a real UART with nobody reading. A SYNC
   * from esptool resets it into download mode (download-mode.ts).
   */
  #uartRx(chunk: Buffer): void {
    this.#trace?.rx(chunk);
    if (this.#resetCircuit.inReset) return;
    if (this.#download.active) return this.#download.receive(chunk);
    this.#board?.stdin?.write(chunk);
    if (this.#download.watch(chunk) && !this.#stopping) void this.#resetIntoDownloadMode();
  }

  async #resetIntoDownloadMode(): Promise<void> {
    // What the app printed before the reset must not trail into the ROM's replies.
    this.#board?.stdout?.removeAllListeners("data");
    await this.powerOff();
    this.boot({ downloadMode: true });
  }

  #linkMessage({ message }: LinkFrame): void {
    switch (message.t) {
      case "ready":
        this.#ready = { deviceId: String(message.deviceId), version: String(message.version) };
        this.emit("ready", this.#ready);
        break;
      case "clock":
        this.#clockWaiters.shift()?.();
        break;
      case "power":
        // Unasked, as the boot exits: how many flash operations it applied.
        if (message.exit === true) this.#flashOpsAtExit = Number(message.ops);
        else this.#answered(message);
        break;
      case "net":
      case "flash":
        this.#answered(message);
        break;
    }
  }

  #answered(message: LinkFrame["message"]): void {
    const waiter = this.#requests.get(Number(message.id));
    this.#requests.delete(Number(message.id));
    if (typeof message.error === "string") waiter?.reject(new Error(`${waiter.what}: ${message.error}`));
    else waiter?.resolve(message);
  }

  #boardExited(board: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#board !== board) return;
    this.#board = undefined;
    this.#ready = undefined;
    this.#wakeClockWaiters();
    const meaning = code !== null ? (EXIT_MEANING[code] ?? `exit code ${code}`) : `killed by ${signal}`;
    const next = this.#stopping || code === null ? undefined : NEXT_BOOT[code];
    const delay = next === undefined ? undefined : this.#nextBootDelay(code!);
    this.emit("boot-end", { code, signal, meaning, reason: this.#lastDiagnostic, nextBootMs: delay, flashOps: this.#flashOpsAtExit });
    if (next === undefined) return;
    if (delay) this.#retryTimer = setTimeout(() => this.boot({ reason: next }), delay);
    else this.boot({ reason: next });
  }

  /** How long the board stays down after a boot that ended with `code`: see PANIC_BACKOFF_MS. */
  #nextBootDelay(code: number): number {
    if (code === 5) return NO_APP_RETRY_MS;
    const quick = Date.now() - this.#bootStartedAt < STABLE_BOOT_MS;
    this.#panicsInARow = code === 6 && quick ? this.#panicsInARow + 1 : 0;
    return this.#panicsInARow === 0 ? 0 : PANIC_BACKOFF_MS[Math.min(this.#panicsInARow, PANIC_BACKOFF_MS.length) - 1]!;
  }

  /** What waited on the boot that ended is woken: a clock window is over when the board is. */
  #wakeClockWaiters(): void {
    for (const wake of this.#clockWaiters.splice(0)) wake();
    for (const waiter of this.#requests.values()) waiter.reject(new Error(`${waiter.what}: the board went down`));
    this.#requests.clear();
  }

  #sendLink(message: LinkFrame["message"], bytes?: Uint8Array): void {
    (this.#board?.stdio[3] as Writable | undefined)?.write(encodeLinkFrame(message, bytes));
  }

  /** Resolve at the next "ready" of the firmware (now if it is up). */
  waitReady(timeoutMs = 15_000): Promise<ReadyInfo> {
    if (this.#ready) return Promise.resolve(this.#ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("ready", onReady);
        reject(new Error(`the board did not become ready within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const onReady = (info: ReadyInfo) => {
        clearTimeout(timer);
        resolve(info);
      };
      this.once("ready", onReady);
    });
  }

  /**
   * Move the virtual clock forward (clock "virtual" only). Resolves when the
   * board has run everything due in the window, or when it went down doing so.
   */
  advanceClock(ms: number): Promise<void> {
    if (this.options.clock !== "virtual") throw new Error("advanceClock needs --clock virtual");
    const done = new Promise<void>((resolve) => this.#clockWaiters.push(resolve));
    this.#sendLink({ t: "clock", advance_ms: ms });
    return done;
  }

  /**
   * Put a fault on the running boot's network, as a flaky link or a broker
   * that goes away would; resolves when the board has applied it. Faults
   * end with the boot (a board that reboots meets a fresh network).
   */
  async network(fault: NetworkFault): Promise<NetworkAnswer> {
    return (await this.#request({ t: "net", ...fault }, `network fault ${fault.op}`)) as NetworkAnswer;
  }

  /**
   * Arm a power cut on the running boot, counted from now: a test counts
   * the flash operations of an action (flashOps before, and after or
   * BootEnd.flashOps when the action restarts the board), then cuts at
   * each. The cut ends the boot as --power-cut-at's does (exit code 4, the
   * next boot a power-on reset); it is forgotten when the boot ends otherwise.
   */
  async armPowerCut(cut: PowerCut): Promise<ArmedPowerCut> {
    const answer = await this.#request({ t: "power", cut_after: cut.after, torn: cut.torn ?? false }, "power cut");
    return answer as unknown as ArmedPowerCut;
  }

  /** Flash operations (writes and erase commands) the running boot has applied since it started, bootloader included. */
  async flashOps(): Promise<number> {
    return Number((await this.#request({ t: "power" }, "flash operations")).ops);
  }

  /** The board's clock and its flash's statistics now (FlashStats). */
  async flashStats(): Promise<FlashStats> {
    return (await this.#request({ t: "flash" }, "flash statistics")) as unknown as FlashStats;
  }

  /** A message the board's host answers on the link, matched by id; rejected when the boot ends first. */
  #request(message: LinkFrame["message"], what: string): Promise<LinkFrame["message"]> {
    if (!this.#board) return Promise.reject(new Error(`${what}: the board is not running`));
    const id = this.#nextRequestId++;
    const answered = new Promise<LinkFrame["message"]>((resolve, reject) => this.#requests.set(id, { what, resolve, reject }));
    this.#sendLink({ ...message, id });
    return answered;
  }

  /** Press reset (or pull power): the running boot ends now, the next one starts. */
  async reset(options: BootOptions = {}): Promise<void> {
    await this.powerOff();
    this.boot({ reason: options.reason ?? "poweron", powerCutAt: options.powerCutAt, powerCutTorn: options.powerCutTorn });
  }

  /**
   * Pull the power and leave it off (the port and the terminal stay, as the
   * bench's do): the flash file can then be changed; boot() turns it on.
   */
  async powerOff(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#download.close();
    const board = this.#board;
    if (!board) return;
    this.#board = undefined;
    this.#ready = undefined;
    const exited = new Promise((r) => board.once("exit", r));
    board.kill("SIGKILL");
    await exited;
    this.#wakeClockWaiters();
  }

  /** Power off for good: the board, the port and the terminal go away. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    this.#toBoard.close();
    this.#toHost.close();
    this.#download.close();
    const board = this.#board;
    if (board && board.exitCode === null) {
      const exited = new Promise((r) => board.once("exit", r));
      board.kill("SIGKILL");
      await exited;
    }
    const socat = this.#socat;
    if (socat && socat.exitCode === null) {
      const exited = new Promise((r) => socat.once("exit", r));
      socat.kill();
      await exited;
    }
    fs.rmSync(this.options.uartLink, { force: true });
    this.#resetCircuit.close();
    await this.#comPort?.close();
    this.#trace?.close();
  }
}

/**
 * The port to give the board: `wanted` when it is free, else an error that
 * says so; for 0, one the system picks now, kept for every boot after.
 */
async function freePort(wanted: number): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new Error(`HTTP port ${wanted} is in use: pick another with --http-port`) : e),
    );
    server.listen(wanted, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
