// xs-ota sim: the virtual board on this computer, as a board on a bench:
// a UART on a stable pseudo-terminal, an HTTP port (RPC over HTTP and
// WebSocket) and an MQTT connection to a broker (an embedded one unless
// --mqtt names another), all surviving resets.

import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { REPO_ROOT, boardBits, buildBoardProgram, ensureFlash } from "../vboard/assets.ts";
import { startEmbeddedBroker } from "../vboard/embedded-broker.ts";
import { tryPidLock, type PidLock } from "../vboard/pid-lock.ts";
import { PROTECTED_METHODS } from "rpc/acl";
import { MQTT_SUBSCRIBED, VirtualBoard, type BootEnd, type ClockMode } from "../vboard/supervisor.ts";

interface SimOptions {
  flash: string;
  httpPort: number;
  uartLink: string;
  clock: ClockMode;
  fresh?: boolean;
  blank?: boolean;
  mqtt?: string;
  mqttPort: number;
  rfc2217Port: number;
  uartTrace?: string;
  baud?: number;
}

/** How long the address lines wait for the board's MQTT subscriptions before they are printed anyway. */
const MQTT_READY_WAIT_MS = 3000;


function mqttUrlOption(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${value}`);
  }
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") throw new InvalidArgumentError(`not an MQTT broker URL (mqtt://host[:port]): ${value}`);
  return value;
}

function baudOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 300 || n > 5_000_000) throw new InvalidArgumentError(`not a baud rate (300..5000000): ${value}`);
  return n;
}

function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`not a TCP port: ${value}`);
  return n;
}

export function registerSimCommand(program: Command): void {
  program
    .command("sim")
    .description("build the firmware and run it on the virtual board (an emulated ESP32)")
    .option("--flash <file>", "flash image of the board (created with the firmware on first use)", path.join(REPO_ROOT, "build/vboard/flash.bin"))
    .option("--http-port <n>", "TCP port of the board's HTTP server", portOption, 8080)
    .option("--uart-link <path>", "stable path of the UART's pseudo-terminal", path.join(REPO_ROOT, "build/vboard/uart"))
    .addOption(new Option("--clock <mode>", "real time, or virtual time that moves only when a test advances it").choices(["real", "virtual"]).default("real"))
    .option("--fresh", "recreate the flash image from the current firmware, erasing the board")
    .option("--blank", "erase the flash (a chip fresh from the factory) and wait in download mode for xs-ota flash")
    .option("--mqtt <url>", "MQTT broker the board connects to (mqtt://host[:port]); default: an embedded broker", mqttUrlOption)
    .option("--mqtt-port <n>", "TCP port of the embedded MQTT broker (0 picks a free one)", portOption, 0)
    .option("--rfc2217-port <n>", "TCP port serving the UART over RFC 2217, with DTR/RTS auto-reset (0 picks a free one)", portOption, 4000)
    .option("--uart-trace <file>", "record every UART byte and DTR/RTS change to this file (JSON lines)")
    .option("--baud <n>", "run the UART at this baud rate (8N1, plus 1 ms per write as a USB-serial chip adds); default: as fast as the pseudo-terminal goes", baudOption)
    .addHelpText(
      "after",
      "\nThe board program is 32-bit (the ESP32's XS slot size) where this machine runs 32-bit programs, else\n" +
        "64-bit; the environment variable VBOARD_BITS=32|64 decides instead. One sim per flash image and UART link.",
    )
    .action(async (options: SimOptions) => {
      const locks = lockBench(options);
      try {
        await runSim(options);
      } finally {
        for (const lock of locks) lock.release();
      }
    });
}

/**
 * One board per flash image and per UART link: a second `xs-ota sim` on the
 * same ones would corrupt the first's flash and steal its terminal, so it is
 * refused, saying how to run a second board beside the first.
 */
function lockBench(options: SimOptions): PidLock[] {
  const locks: PidLock[] = [];
  for (const [what, file] of [["flash image", options.flash], ["UART link", options.uartLink]] as const) {
    const lock = tryPidLock(`${path.resolve(file)}.lock`);
    if ("heldBy" in lock) {
      for (const l of locks) l.release();
      throw new Error(
        `another xs-ota sim (pid ${lock.heldBy}) is using the ${what} ${file}: stop it, or run a second board with its own --flash FILE --uart-link PATH --http-port N`,
      );
    }
    locks.push(lock);
  }
  return locks;
}

async function runSim(options: SimOptions): Promise<void> {
  const { bits, why } = boardBits();
  process.stderr.write(`building the virtual board (${bits}-bit: ${why}) and the firmware...\n`);
  const binary = buildBoardProgram(bits);
  if (options.blank) {
    fs.rmSync(options.flash, { force: true }); // the ROM's download mode creates it erased
    process.stderr.write(`blank flash image ${options.flash}\n`);
  } else {
    const flash = await ensureFlash(options.flash, options.fresh);
    process.stderr.write(`${flash === "created" ? "created" : "using"} flash image ${options.flash}\n`);
  }
  const broker = options.mqtt === undefined ? await startEmbeddedBroker(options.mqttPort) : undefined;
  const mqttUrl = options.mqtt ?? broker!.url;
  const board = new VirtualBoard({
    binary,
    flashPath: options.flash,
    httpPort: options.httpPort,
    uartLink: options.uartLink,
    clock: options.clock,
    mqttUrl,
    rfc2217Port: options.rfc2217Port,
    uartTrace: options.uartTrace,
    uartBaud: options.baud,
  });
  try {
    await runUntilSignal(board, mqttUrl, options.blank === true);
  } finally {
    await broker?.close();
  }
}

/**
 * One line on who may call the board: without users it answers everybody,
 * as Mongoose OS does; a user in rpc.auth.users puts PROTECTED_METHODS
 * behind credentials on every channel but the UART (README, Authentication).
 */
async function accessLine(httpUrl: string): Promise<string> {
  const methods = PROTECTED_METHODS.split(",").join(", ");
  try {
    const reply = await fetch(`${httpUrl}/Config.Get?key=${encodeURIComponent('"rpc.auth.users"')}`);
    const users = Object.keys((await reply.json()) as object);
    if (users.length === 0) {
      return `open to everybody: no credentials are set; a user in rpc.auth.users puts ${methods} behind them (README: Authentication)`;
    }
    return `credentials set (${users.length} user${users.length === 1 ? "" : "s"}): ${methods} need them except on the UART`;
  } catch (e) {
    return `who may call the board is unknown: Config.Get rpc.auth.users failed (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** "[sim] boot 3 ended: firmware panic (Guru Meditation: ...); booting again in 0.5 s" */
function describeBootEnd(boot: number, end: BootEnd): string {
  let line = `[sim] boot ${boot} ended: ${end.meaning}`;
  // Why a boot failed; a restart or a power cut needs no reason.
  if (end.reason && end.code !== 3 && end.code !== 4) line += ` (${end.reason})`;
  if (end.nextBootMs) line += `; booting again in ${end.nextBootMs / 1000} s`;
  return line + "\n";
}

async function runUntilSignal(board: VirtualBoard, brokerUrl: string, blank: boolean): Promise<void> {
  // The console is held back until the board first says it is ready, so the
  // lines that say how to reach it come first.
  let held: string[] | undefined = [];
  let seen = "";
  const subscribed = () => seen.includes(MQTT_SUBSCRIBED);
  const onSubscribed: Array<() => void> = [];
  board.on("console", (text) => {
    if (!subscribed()) {
      seen += text;
      if (subscribed()) onSubscribed.splice(0).forEach((wake) => wake());
    }
    if (held) held.push(text);
    else process.stdout.write(text);
  });
  board.once("ready", async (info) => {
    // The MQTT line is printed when the device can be called there (its log
    // says the broker acknowledged its subscriptions), if the broker lets it soon.
    if (!subscribed()) await Promise.race([new Promise<void>((r) => onSubscribed.push(r)), new Promise((r) => setTimeout(r, MQTT_READY_WAIT_MS).unref())]);
    const mqttUrl = brokerUrl.replace(/\/+$/, "");
    process.stdout.write(`http: ${board.httpUrl}\nuart: ${board.uartPath}\nrfc2217: ${board.rfc2217Url}\nmqtt: ${mqttUrl} device ${info.deviceId}\n`);
    process.stderr.write(
      `device ${info.deviceId}, firmware ${info.version}. Try:\n` +
        `  curl -s ${board.httpUrl}/Sys.GetInfo\n  npx xs-ota --port ${board.uartPath} call RPC.List\n` +
        `  npx xs-ota --port ${board.httpUrl.replace(/^http/, "ws")} call OTA.GetBootState\n` +
        `  npx xs-ota --port ${mqttUrl}/${info.deviceId} call Sys.GetInfo\n`,
    );
    process.stderr.write(`${await accessLine(board.httpUrl)}\n`);
    for (const text of held ?? []) process.stdout.write(text);
    held = undefined;
  });
  board.once("download-mode", () => {
    // A blank board says nothing until it is flashed: say where to flash it, and show the ROM's banner.
    if (blank) {
      process.stderr.write(
        `[sim] the board waits in download mode on ${board.uartPath} (and ${board.rfc2217Url}); ` +
          `flash it with: npx xs-ota --port ${board.uartPath} flash\n`,
      );
    }
    for (const text of held ?? []) process.stdout.write(text);
    held = undefined;
  });
  board.on("boot-end", (end) => {
    // A board that goes down before it was ever ready shows its console at
    // once: the boot log and the panic are what tells the user why.
    for (const text of held ?? []) process.stdout.write(text);
    held = undefined;
    process.stderr.write(describeBootEnd(board.bootCount, end));
  });
  await board.start({ downloadMode: blank });
  await new Promise<void>((resolve, reject) => {
    board.on("error", reject);
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await board.stop();
}
