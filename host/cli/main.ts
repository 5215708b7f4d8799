// The xs-ota command: mos-compatible verbs over serial, HTTP, WebSocket and
// MQTT. Exit status: 0 success, 1 the call failed (remote error, timeout,
// port), 2 the command line was wrong.

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { parseCredentials, type Credentials } from "../client/credentials.ts";
import { RemoteError, TimeoutError } from "../client/rpc-client.ts";
import { TransportError } from "../client/transport.ts";
import { parseDurationMs } from "./duration.ts";
import { UsageError, withClient, type GlobalOptions } from "./connect.ts";
import { registerOtaCommand } from "./ota-command.ts";
import { prettyJson } from "./pretty-json.ts";
import { registerBuildCommand } from "./build-command.ts";
import { registerFwinfoCommand } from "./fwinfo-command.ts";
import { registerFlashCommand } from "../flash/flash-command.ts";
import { registerSimCommand } from "./sim-command.ts";

function durationOption(value: string): number {
  try {
    return parseDurationMs(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function credentialsOption(value: string): Credentials {
  try {
    return parseCredentials(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function integerOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command("xs-ota")
    .description("Over-the-air updates for ESP32 boards running the xs-ota firmware (mos-compatible RPC)")
    .option(
      "--port <url>",
      "device port: serial:///dev/ttyUSB0, /dev/ttyUSB0, http://host/rpc, ws://host/rpc or mqtt://[user:pass@]broker[:port]/<device id> (env XS_OTA_PORT)",
    )
    .addOption(
      new Option("--timeout <duration>", "time to wait for each reply: 10s, 500ms, or seconds").argParser(durationOption).default(10_000, "10s"),
    )
    .option("--baud-rate <n>", "serial baud rate", integerOption, 115200)
    .option("--rpc-creds <user:pass>", "credentials for devices that ask for them (digest auth): user:password, or @file holding it (env XS_OTA_RPC_CREDS)", credentialsOption)
    .option("-v, --verbose", "print the device's console log lines seen on the way (serial)")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("call")
    .description("call an RPC method and print its result as JSON")
    .argument("<method>", "method name, e.g. RPC.List or Sys.GetInfo")
    .argument("[args]", "arguments as JSON, e.g. '{\"name\":\"RPC.Ping\"}'")
    .addHelpText("after", "\nExamples:\n  xs-ota --port /dev/ttyUSB0 call Sys.GetInfo\n  xs-ota --port http://192.168.4.1/rpc call RPC.Describe '{\"name\":\"OTA.Update\"}'")
    .action(async (method: string, argsText: string | undefined) => {
      const params = argsText === undefined ? undefined : parseArgsJson(argsText);
      const result = await withClient(program.opts<GlobalOptions>(), (client) => client.callRaw(method, params));
      process.stdout.write(prettyJson(result) + "\n");
    });

  registerOtaCommand(program);
  registerSimCommand(program);
  registerBuildCommand(program);
  registerFwinfoCommand(program);
  registerFlashCommand(program);
  return program;
}

function parseArgsJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`args must be valid JSON: ${(e as Error).message}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    // Commander has printed its own usage errors already.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof RemoteError || e instanceof TimeoutError || e instanceof TransportError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    // Anything else is a failure of this tool; the stack helps only when asked for.
    process.stderr.write(`error: ${process.env.XS_OTA_DEBUG ? (e as Error).stack : (e as Error).message}\n`);
    return 1;
  }
}
