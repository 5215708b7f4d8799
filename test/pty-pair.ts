// Two linked pseudo-terminals from socat: what a USB-serial cable looks like
// to both ends. Tests put a device on one end and the CLI on the other.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface PtyPair {
  /** Path of the device's end (a /dev/pts/N node). */
  readonly device: string;
  /** Path of the host's end (a /dev/pts/N node). */
  readonly host: string;
  close(): Promise<void>;
}

export async function openPtyPair(): Promise<PtyPair> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-pty-"));
  const a = path.join(dir, "device");
  const b = path.join(dir, "host");
  const socat: ChildProcess = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  const spawnError = new Promise<never>((_, reject) => socat.on("error", (e) => reject(new Error(`socat is needed for serial tests (make setup installs it): ${e.message}`))));
  const deadline = Date.now() + 5000;
  while (!(fs.existsSync(a) && fs.existsSync(b))) {
    if (Date.now() > deadline) throw new Error("socat did not create the pseudo-terminals");
    await Promise.race([spawnError, new Promise((r) => setTimeout(r, 20))]);
  }
  return {
    device: fs.realpathSync(a),
    host: fs.realpathSync(b),
    close: async () => {
      if (socat.exitCode === null) {
        const exited = new Promise((r) => socat.once("exit", r));
        socat.kill();
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
