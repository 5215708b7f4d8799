// Text beyond ASCII, both ways, over every transport of the virtual board:
// `xs-ota call` with "café ☕" in its params answers, and a string set with
// Config.Set comes back from Config.Get as it was sent (a BMP character, one
// outside it, a combining mark). Over the UART the host writes ASCII JSON
// (\u escapes), as the device does; the device also takes the raw UTF-8 mos
// writes, its CRC over the bytes.

import assert from "node:assert/strict";
import { crc32 } from "rpc/crc32";
import { SerialPort } from "serialport";
import { encodeMosFrame } from "../host/client/uart-reader.ts";
import { runCli } from "./run-cli.ts";
import { startSim, type RunningSim } from "./run-sim.ts";

const TEXT = "café ☕ 𝄞 e\u0301";

describe("non-ASCII text over every transport", function () {
  this.timeout(120_000);
  let sim: RunningSim;
  let ports: Array<[string, string]>;

  before(async () => {
    sim = await startSim();
    await sim.waitFor(/mqtt: subscribed/);
    ports = [
      ["UART", sim.uartPath],
      ["HTTP", sim.httpUrl],
      ["WebSocket", sim.httpUrl.replace(/^http/, "ws")],
      ["MQTT", `${sim.mqttBroker}/${sim.deviceId}`],
    ];
  });
  after(() => sim?.stop());

  for (const transport of ["UART", "HTTP", "WebSocket", "MQTT"]) {
    it(`${transport}: RPC.Ping with "café ☕" in its params answers`, async () => {
      const port = ports.find(([name]) => name === transport)![1];
      const r = await runCli(["--port", port, "call", "RPC.Ping", '{"s":"café ☕"}']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok("channel_info" in (JSON.parse(r.stdout) as object), r.stdout);
    });

    it(`${transport}: a string with characters beyond ASCII goes in with Config.Set and comes back from Config.Get unchanged`, async () => {
      const port = ports.find(([name]) => name === transport)![1];
      const value = `${TEXT} (${transport})`;
      const set = await runCli(["--port", port, "call", "Config.Set", JSON.stringify({ config: { rpc: { auth_domain: value } } })]);
      assert.equal(set.code, 0, set.stderr);
      const get = await runCli(["--port", port, "call", "Config.Get", JSON.stringify({ key: "rpc.auth_domain" })]);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(JSON.parse(get.stdout), value);
    });
  }

  it("a saved string beyond ASCII is read back the same after a reboot (the config record holds it as \\u escapes)", async () => {
    const value = `${TEXT} saved`;
    const set = await runCli(["--port", sim.httpUrl, "call", "Config.Set", JSON.stringify({ config: { rpc: { auth_domain: value } }, save: true })]);
    assert.equal(set.code, 0, set.stderr);
    const mark = sim.output().length;
    assert.equal((await runCli(["--port", sim.httpUrl, "call", "Sys.Reboot"])).code, 0);
    await sim.waitFor(/RPC ready/, 30_000, mark);
    const get = await runCli(["--port", sim.uartPath, "call", "Config.Get", JSON.stringify({ key: "rpc.auth_domain" })]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout), value);
  });

  it("UART: the host's frame is ASCII, its CRC over those bytes", () => {
    const frame = encodeMosFrame(JSON.stringify({ id: 1, method: "RPC.Ping", args: { s: TEXT } }));
    assert.ok(frame.every((b) => b < 0x80), frame.toString("latin1"));
    const body = frame.toString("latin1").slice('\n"""'.length, -'"""\n'.length);
    const json = body.slice(0, -8);
    assert.equal(body.slice(-8), crc32(Buffer.from(json, "latin1")).toString(16).padStart(8, "0"));
    assert.equal((JSON.parse(json) as { args: { s: string } }).args.s, TEXT);
  });

  it("UART: the raw UTF-8 frame mos writes, CRC over its bytes, is answered, its text intact", async () => {
    const json = JSON.stringify({ id: 77, src: "mos", method: "RPC.Describe", args: { name: TEXT } });
    const bytes = Buffer.from(json, "utf8");
    const crc = crc32(bytes).toString(16).padStart(8, "0");
    const port = new SerialPort({ path: sim.uartPath, baudRate: 115200 });
    await new Promise((r) => port.once("open", r));
    let received = "";
    port.on("data", (c: Buffer) => (received += c.toString("latin1")));
    try {
      const mark = sim.output().length;
      port.write(Buffer.concat([Buffer.from('\n"""'), bytes, Buffer.from(`${crc}"""\n`)]));
      for (let i = 0; i < 500 && !received.includes('"id":77,'); i++) await new Promise((r) => setTimeout(r, 20));
      // RPC.Describe of a name nobody registered: 404, after the name was read whole.
      assert.match(received, /\{"id":77,"src":"esp32_\w+","dst":"mos","error":\{"code":404,/);
      assert.doesNotMatch(sim.output().slice(mark), /dropped|not valid UTF-8|corrupted/);
    } finally {
      await new Promise<void>((r) => port.close(() => r()));
    }
  });
});
