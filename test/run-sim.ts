// `xs-ota sim` as a user starts it, for tests: a child process whose first
// stdout lines say where the board is; its console is collected for assertions.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../host/cli/bin.js", import.meta.url));

export interface RunningSim {
  readonly httpUrl: string;
  readonly uartPath: string;
  /** The broker the board is connected to (the embedded one unless --mqtt was given). */
  readonly mqttBroker: string;
  readonly deviceId: string;
  readonly dir: string;
  /** Everything the sim printed on stdout so far (addresses, then the console). */
  output(): string;
  /** Everything it printed on stderr so far (what to try, who may call the board, boot ends). */
  errors(): string;
  /** Resolve when the output after position `from` matches `re`. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export async function startSim(extraArgs: string[] = [], timeoutMs = 60_000): Promise<RunningSim> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-sim-"));
  const args = [BIN, "sim", "--http-port", "0", "--rfc2217-port", "0", "--flash", path.join(dir, "flash.bin"), "--uart-link", path.join(dir, "uart"), ...extraArgs];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString("utf8");
    for (const w of waiters) w();
  });
  child.stderr!.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const waitFor = (re: RegExp, ms = 20_000, from = 0) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out.slice(from).match(re);
        if (m) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        } else if (child.exitCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`xs-ota sim exited (${child.exitCode}) before ${re}:\n${err}\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${re}; stderr:\n${err}\nstdout:\n${out}`));
      }, ms);
      waiters.add(check);
      child.once("exit", check);
      check();
    });
  let http, uart, mqtt;
  try {
    http = await waitFor(/^http: (\S+)$/m, timeoutMs);
    uart = await waitFor(/^uart: (\S+)$/m, timeoutMs);
    mqtt = await waitFor(/^mqtt: (\S+) device (\S+)$/m, timeoutMs);
  } catch (e) {
    // A sim that never said where it is would otherwise outlive the test run.
    child.kill("SIGKILL");
    throw e;
  }
  return {
    httpUrl: http[1]!,
    uartPath: uart[1]!,
    mqttBroker: mqtt[1]!,
    deviceId: mqtt[2]!,
    dir,
    errors: () => err,
    output: () => out,
    waitFor,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
