// xs-ota sim: the virtual board on this computer, as a board on a bench:
// a UART on a stable pseudo-terminal and an HTTP port, both surviving resets.

import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { REPO_ROOT, buildBoardProgram, ensureFlash } from "../vboard/assets.ts";
import { VirtualBoard, type ClockMode } from "../vboard/supervisor.ts";

interface SimOptions {
  flash: string;
  httpPort: number;
  uartLink: string;
  clock: ClockMode;
  fresh?: boolean;
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
    .action(async (options: SimOptions) => {
      process.stderr.write("building the virtual board and the firmware...\n");
      const binary = buildBoardProgram();
      const flash = await ensureFlash(options.flash, options.fresh);
      process.stderr.write(`${flash === "created" ? "created" : "using"} flash image ${options.flash}\n`);
      const board = new VirtualBoard({ binary, flashPath: options.flash, httpPort: options.httpPort, uartLink: options.uartLink, clock: options.clock });
      await runUntilSignal(board);
    });
}

async function runUntilSignal(board: VirtualBoard): Promise<void> {
  // The console is held back until the board first says it is ready, so the
  // two lines that say how to reach it come first.
  let held: string[] | undefined = [];
  board.on("console", (text) => (held ? held.push(text) : process.stdout.write(text)));
  board.once("ready", (info) => {
    process.stdout.write(`http: ${board.httpUrl}\nuart: ${board.uartPath}\n`);
    process.stderr.write(
      `device ${info.deviceId}, firmware ${info.version}. Try:\n` +
        `  curl -s ${board.httpUrl}/Sys.GetInfo\n  npx xs-ota --port ${board.uartPath} call RPC.List\n`,
    );
    for (const text of held!) process.stdout.write(text);
    held = undefined;
  });
  board.on("boot-end", (end) => process.stderr.write(`[sim] boot ended: ${end.meaning}\n`));
  await board.start();
  await new Promise<void>((resolve, reject) => {
    board.on("error", reject);
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await board.stop();
}
