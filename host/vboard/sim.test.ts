// The virtual board as a user meets it: `xs-ota sim`, then curl and xs-ota
// over its HTTP port and its UART pseudo-terminal, across a reboot.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { buildBoardProgram, ensureFlash, writeFactoryFlash } from "./assets.ts";
import { FAULTY_MAIN, buildFirmwarePackage } from "./firmware-package.ts";
import { VirtualBoard } from "./supervisor.ts";
import { runCli } from "../../test/run-cli.ts";
import { startSim, type RunningSim } from "../../test/run-sim.ts";

const exec = promisify(execFile);
const SIM_BIN = fileURLToPath(new URL("../cli/bin.js", import.meta.url));

async function curl(url: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec("curl", ["-s", "--max-time", "10", ...args, url]);
  return stdout;
}

async function getInfo(sim: RunningSim): Promise<Record<string, unknown>> {
  return JSON.parse(await curl(`${sim.httpUrl}/Sys.GetInfo`));
}

describe("xs-ota sim (the virtual board)", function () {
  this.timeout(120_000);
  let sim: RunningSim;
  before(async () => (sim = await startSim()));
  after(() => sim?.stop());

  it("prints where the board is, then its boot log, ROM lines first", async () => {
    await sim.waitFor(/RPC ready on UART0 and HTTP \/rpc/);
    const out = sim.output();
    assert.match(out, /^http: http:\/\/127\.0\.0\.1:\d+\/rpc\nuart: \S+\nrfc2217: rfc2217:\/\/127\.0\.0\.1:\d+\nmqtt: mqtt:\/\/127\.0\.0\.1:\d+ device esp32_[0-9A-F]{6}\n/);
    const rom = out.indexOf("ets Jun  8 2016 00:22:57");
    const firmware = out.indexOf("RPC ready on UART0 and HTTP /rpc");
    assert.ok(rom >= 0 && firmware > rom, out);
  });

  it("says in one line that a board without credentials answers everybody, and what a user locks", async () => {
    for (let i = 0; i < 100 && !/open to everybody/.test(sim.errors()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(sim.errors(), /^open to everybody: no credentials are set; a user in rpc\.auth\.users puts OTA\.\*, Sys\.Reboot, Config\.Set, Config\.Save behind them \(README: Authentication\)$/m);
  });

  it("answers curl on /rpc/Sys.GetInfo with the fields mos reads", async () => {
    const info = await getInfo(sim);
    assert.equal(info.arch, "esp32");
    assert.equal(info.app, "xs-ota");
    assert.match(String(info.id), /^esp32_[0-9A-F]{6}$/);
    assert.match(String(info.mac), /^[0-9A-F]{12}$/);
    assert.equal(String(info.id).slice(6), String(info.mac).slice(6));
    assert.match(String(info.fw_id), /^\d{8}-\d{6}\/\S+$/);
    for (const k of ["uptime", "ram_size", "ram_free", "ram_min_free"]) assert.equal(typeof info[k], "number", k);
    assert.ok((info.ram_free as number) >= (info.ram_min_free as number) && (info.ram_min_free as number) > 0);
  });

  it("answers xs-ota call RPC.List over the UART and over HTTP", async () => {
    for (const port of [sim.uartPath, sim.httpUrl]) {
      const r = await runCli(["--port", port, "call", "RPC.List"]);
      assert.equal(r.code, 0, r.stderr);
      const methods = JSON.parse(r.stdout) as string[];
      for (const m of ["RPC.List", "RPC.Describe", "RPC.Ping", "Sys.GetInfo", "Sys.Reboot"]) assert.ok(methods.includes(m), `${m} over ${port}`);
    }
  });

  it("answers xs-ota call over WebSocket and over MQTT through the embedded broker", async () => {
    for (const port of [sim.httpUrl.replace(/^http/, "ws"), `${sim.mqttBroker}/${sim.deviceId}`]) {
      const r = await runCli(["--port", port, "call", "OTA.GetBootState"]);
      assert.equal(r.code, 0, `${port}: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    }
  });

  it("answers a frame POSTed to /rpc and the REST error mapping", async () => {
    const frame = await curl(sim.httpUrl, "-d", '{"id":18446744073709551617,"src":"curl","method":"RPC.Ping"}');
    assert.match(frame, /^\{"id":18446744073709551617,"src":"esp32_[0-9A-F]{6}","dst":"curl","result":\{"channel_info":"127\.0\.0\.1"\}\}\r\n$/);
    const status = await curl(`${sim.httpUrl}/No.Such`, "-o", "/dev/null", "-w", "%{http_code}");
    assert.equal(status, "404");
  });

  it("reboots on Sys.Reboot: uptime restarts, the boot shows, both channels come back on the same path and port", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const before = await getInfo(sim);
    assert.ok((before.uptime as number) >= 1);
    const mark = sim.output().length;
    const r = await runCli(["--port", sim.httpUrl, "call", "Sys.Reboot", '{"delay_ms":300}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "null\n");
    await sim.waitFor(/rst:0xc \(SW_CPU_RESET\)[\s\S]*RPC ready on UART0/, 20_000, mark);
    const after = await getInfo(sim);
    assert.ok((after.uptime as number) < (before.uptime as number), `uptime ${after.uptime} after ${before.uptime}`);
    const uart = await runCli(["--port", sim.uartPath, "call", "RPC.Ping"]);
    assert.equal(uart.code, 0, uart.stderr);
    assert.deepEqual(JSON.parse(uart.stdout), { channel_info: "UART0" });
  });

  it("refuses a negative delay with 400", async () => {
    const r = await runCli(["--port", sim.httpUrl, "call", "Sys.Reboot", '{"delay_ms":-1}']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "remote error 400: invalid delay value\n");
  });

  it("refuses a second sim on the same flash image or UART link, saying how to run a second board", async () => {
    const args = ["sim", "--http-port", "0", "--rfc2217-port", "0"];
    const fix = "stop it, or run a second board with its own --flash FILE --uart-link PATH --http-port N";
    const sameFlash = await runCli([...args, "--flash", path.join(sim.dir, "flash.bin"), "--uart-link", path.join(sim.dir, "uart2")]);
    assert.equal(sameFlash.code, 1);
    assert.match(sameFlash.stderr, new RegExp(`^error: another xs-ota sim \\(pid \\d+\\) is using the flash image \\S+/flash\\.bin: ${fix}\n$`));
    const sameUart = await runCli([...args, "--flash", path.join(sim.dir, "flash2.bin"), "--uart-link", sim.uartPath]);
    assert.equal(sameUart.code, 1);
    assert.match(sameUart.stderr, new RegExp(`^error: another xs-ota sim \\(pid \\d+\\) is using the UART link \\S+/uart: ${fix}\n$`));
    assert.equal(fs.existsSync(path.join(sim.dir, "flash2.bin")), false, "the refused sim created nothing");
    const still = await runCli(["--port", sim.uartPath, "call", "RPC.Ping"]);
    assert.equal(still.code, 0, still.stderr);
  });
});

describe("xs-ota sim with a firmware that panics at every boot", function () {
  this.timeout(60_000);

  it("shows the boot log and each panic, and reboots with a growing pause", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-sim-crash-"));
    const crash = await buildFirmwarePackage({ version: "9.9.9-crash", firmwareOverride: [["main", FAULTY_MAIN["crash-at-start"]]] });
    writeFactoryFlash(path.join(dir, "flash.bin"), crash.app);
    const child = spawn(process.execPath, [SIM_BIN, "sim", "--http-port", "0", "--rfc2217-port", "0", "--flash", path.join(dir, "flash.bin"), "--uart-link", path.join(dir, "uart")]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    try {
      const deadline = Date.now() + 30_000;
      while (!/\[sim\] boot 3 ended/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const panic = "firmware panic (Guru Meditation: uncaught exception: Error: xs-ota test firmware: crash at start)";
      assert.match(stderr, new RegExp(`\\[sim\\] boot 1 ended: ${escape(panic)}\n\\[sim\\] boot 2 ended: ${escape(panic)}; booting again in 0\\.25 s\n\\[sim\\] boot 3 ended: ${escape(panic)}; booting again in 0\\.5 s\n`));
      assert.match(stdout, /ets Jun {2}8 2016[\s\S]*Guru Meditation: uncaught exception/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("the virtual board on a virtual clock", function () {
  this.timeout(120_000);
  let board: VirtualBoard;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-vclock-"));
    const flashPath = path.join(dir, "flash.bin");
    await ensureFlash(flashPath);
    board = new VirtualBoard({ binary: buildBoardProgram(), flashPath, httpPort: 0, uartLink: path.join(dir, "uart"), clock: "virtual" });
    await board.start();
    await board.waitReady();
  });
  after(async () => {
    await board?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses every call with 418 in the last 100 ms before a reboot, then reboots when the time comes", async () => {
    const r = await runCli(["--port", board.httpUrl, "call", "Sys.Reboot", '{"delay_ms":60}']);
    assert.equal(r.code, 0, r.stderr);
    // Time stands still until advanced: the board stays in its lockout window.
    for (const port of [board.httpUrl, board.uartPath]) {
      const refused = await runCli(["--port", port, "call", "RPC.Ping"]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, "remote error 418: shutting down in 60 ms\n");
    }
    await board.advanceClock(40);
    const closer = await runCli(["--port", board.httpUrl, "call", "RPC.Ping"]);
    assert.equal(closer.stderr, "remote error 418: shutting down in 20 ms\n");
    const boots = board.bootCount;
    const ended = new Promise((resolve) => board.once("boot-end", resolve));
    await board.advanceClock(20);
    await ended;
    await board.waitReady();
    assert.equal(board.bootCount, boots + 1);
    const ping = await runCli(["--port", board.httpUrl, "call", "RPC.Ping"]);
    assert.equal(ping.code, 0, ping.stderr);
  });
});
