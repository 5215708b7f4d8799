// A real mosquitto broker for tests (the Debian package; make setup installs
// it), on a free loopback port and with a config of its own, so the test does
// not depend on, or disturb, any broker already on the machine.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  /** Kill it (the broker goes away, as a crashed or restarted one does). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startMosquitto(): Promise<Mosquitto> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-mosquitto-"));
  const config = path.join(dir, "mosquitto.conf");
  // set_tcp_nodelay: without it mosquitto holds each reply for the client's
  // delayed ACK (~40 ms a call), which is realistic but makes a test slow.
  fs.writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n`);
  let child: ChildProcess | undefined;
  let output = "";
  const start = async () => {
    const proc = spawn("mosquitto", ["-c", config], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    // A run that ends without its after hooks (mocha --exit, a failure) must not leave a broker behind.
    const killAtExit = () => proc.kill("SIGKILL");
    process.once("exit", killAtExit);
    proc.once("exit", () => process.off("exit", killAtExit));
    proc.stdout!.on("data", (c: Buffer) => (output += c));
    proc.stderr!.on("data", (c: Buffer) => (output += c));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start on port ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
