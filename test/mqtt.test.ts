// RPC over MQTT end to end: the firmware's own MQTT client on the virtual
// board connected to a broker (the embedded aedes that `xs-ota sim` runs, and a real mosquitto),
// xs-ota speaking mos's MQTT addressing, mosquitto_pub/mosquitto_sub as a
// third-party client, and the broker going away and coming back.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { MqttTransport } from "../host/client/mqtt-transport.ts";
import { RpcClient } from "../host/client/rpc-client.ts";
import { startEmbeddedBroker } from "../host/vboard/embedded-broker.ts";
import { startMosquitto, type Mosquitto } from "./mosquitto.ts";
import { startBench, testFirmware, type Bench } from "./ota-rig.ts";
import { runCli } from "./run-cli.ts";
import { startSim, type RunningSim } from "./run-sim.ts";

const exec = promisify(execFile);

interface Broker {
  readonly url: string;
  close(): Promise<void>;
}

const BROKERS: Array<{ name: string; start: () => Promise<Broker> }> = [
  { name: "the embedded broker (aedes)", start: () => startEmbeddedBroker() },
  { name: "mosquitto", start: startMosquitto },
];

/** mosquitto_sub on every topic, printing "topic payload" lines (line-buffered, so its SUBACK is seen when it comes). */
class TopicWatcher {
  readonly #child: ChildProcess;
  #out = "";
  readonly #changed = new Set<() => void>();

  constructor(brokerUrl: string) {
    const url = new URL(brokerUrl);
    this.#child = spawn("stdbuf", ["-oL", "mosquitto_sub", "-h", url.hostname, "-p", url.port, "-q", "1", "-d", "-v", "-t", "#"], { stdio: ["ignore", "pipe", "pipe"] });
    this.#child.stdout!.on("data", (c: Buffer) => {
      this.#out += c.toString("utf8");
      for (const f of this.#changed) f();
    });
  }

  /** Everything mosquitto_sub printed, its -d debug lines (QoS of each PUBLISH) included. */
  get output(): string {
    return this.#out;
  }

  /** Published frames seen, in order. */
  get messages(): Array<{ topic: string; payload: string }> {
    return [...this.#out.matchAll(/^(\S+) (\{.*\})$/gm)].map((m) => ({ topic: m[1]!, payload: m[2]! }));
  }

  until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        this.#changed.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#changed.delete(check);
        reject(new Error(`mosquitto_sub did not see ${what}:\n${this.#out}`));
      }, timeoutMs);
      this.#changed.add(check);
      check();
    });
  }

  subscribed(): Promise<void> {
    return this.until(() => /^Subscribed \(mid/m.test(this.#out), "its SUBACK");
  }

  close(): void {
    this.#child.kill();
  }
}

async function mosquittoPub(brokerUrl: string, topic: string, payload: string): Promise<void> {
  const url = new URL(brokerUrl);
  await exec("mosquitto_pub", ["-h", url.hostname, "-p", url.port, "-q", "1", "-t", topic, "-m", payload]);
}

for (const kind of BROKERS) {
  describe(`RPC over MQTT through ${kind.name}`, function () {
    this.timeout(60_000);
    let broker: Broker;
    let bench: Bench;
    let deviceId: string;
    let port: string;
    before(async () => (broker = await kind.start()));
    after(() => broker?.close());
    beforeEach(async () => {
      bench = await startBench("virtual", { mqttUrl: broker.url });
      deviceId = (await bench.board.waitReady()).deviceId;
      port = `${broker.url}/${deviceId}`;
    });
    afterEach(() => bench.close());

    it("answers xs-ota call RPC.List and OTA.GetBootState with mos's addressing", async () => {
      const list = await runCli(["--port", port, "call", "RPC.List"]);
      assert.equal(list.code, 0, list.stderr);
      const methods = JSON.parse(list.stdout) as string[];
      for (const m of ["RPC.List", "OTA.GetBootState", "OTA.Begin", "OTA.Write", "OTA.End", "Sys.GetInfo"]) assert.ok(methods.includes(m), m);
      const state = await runCli(["--port", port, "call", "OTA.GetBootState"]);
      assert.equal(state.code, 0, state.stderr);
      assert.deepEqual(JSON.parse(state.stdout), { active_slot: 0, is_committed: true, revert_slot: 0, commit_timeout: 0 });
    });

    it("updates with xs-ota ota, then answers over MQTT again from the new firmware", async () => {
      const zip = path.join(bench.dir, "v2.zip");
      fs.writeFileSync(zip, (await testFirmware()).v2.zip);
      const r = await runCli(["--port", port, "ota", zip, "--commit-timeout", "0"]);
      assert.equal(r.code, 0, r.stderr);
      const booted = bench.nextBoot();
      await bench.board.advanceClock(200);
      await booted;
      await bench.mqttReady();
      const client = new RpcClient(new MqttTransport(new URL(port)));
      try {
        assert.equal(((await client.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "2.0.0");
        assert.deepEqual(await client.call("OTA.GetBootState"), { active_slot: 1, is_committed: true, revert_slot: 0, commit_timeout: 0 });
      } finally {
        await client.close();
      }
    });

    it("answers mosquitto_pub on <id>/rpc and <id>/rpc/<Method> at <src>/rpc; frames without src or for another device get nothing", async () => {
      const watcher = new TopicWatcher(broker.url);
      try {
        await watcher.subscribed();
        await mosquittoPub(broker.url, `${deviceId}/rpc`, '{"id":1,"src":"tester/a","method":"RPC.List"}');
        await mosquittoPub(broker.url, `${deviceId}/rpc/OTA.GetBootState`, '{"id":2,"src":"tester/b"}');
        await mosquittoPub(broker.url, `${deviceId}/rpc`, '{"id":3,"method":"RPC.List"}');
        await mosquittoPub(broker.url, `${deviceId}/rpc`, '{"id":4,"src":"tester/d","dst":"esp32_000000","method":"RPC.List"}');
        await mosquittoPub(broker.url, `${deviceId}/rpc`, `{"id":5,"src":"tester/e","dst":"${deviceId}","method":"RPC.Ping"}`);
        // The device answers in order, so once the last reply is in, any reply to 3 or 4 would be too.
        await watcher.until(() => watcher.messages.some((m) => m.topic === "tester/e/rpc"), "the reply to the last request");
        const replies = watcher.messages.filter((m) => m.topic.startsWith("tester/"));
        assert.deepEqual(
          replies.map((m) => m.topic),
          ["tester/a/rpc", "tester/b/rpc", "tester/e/rpc"],
        );
        assert.ok((JSON.parse(replies[0]!.payload).result as string[]).includes("RPC.List"));
        // The device publishes its replies at QoS 1 (a QoS 0 one would reach this QoS 1 subscriber as q0).
        assert.match(watcher.output, /received PUBLISH \(d0, q1, r0, m\d+, 'tester\/a\/rpc'/);
        assert.equal(replies[1]!.payload, `{"id":2,"src":"${deviceId}","dst":"tester/b","result":{"active_slot":0,"is_committed":true,"revert_slot":0,"commit_timeout":0}}`);
        assert.match(replies[2]!.payload, new RegExp(`^\\{"id":5,"src":"${deviceId}","dst":"tester/e","result":\\{"channel_info":"127\\.0\\.0\\.1:\\d+"\\}\\}$`));
        assert.match(bench.console(), /MQTT: frame dropped: frame without src/);
        assert.match(bench.console(), /MQTT: frame dropped: wrong dst "esp32_000000"/);
      } finally {
        watcher.close();
      }
    });
  });
}

describe("the board's MQTT connection when the broker goes away", function () {
  this.timeout(60_000);

  let mosquitto: Mosquitto;
  let bench: Bench;
  before(async () => (mosquitto = await startMosquitto()));
  after(() => mosquitto?.close());
  beforeEach(async () => (bench = await startBench("virtual", { mqttUrl: mosquitto.url })));
  afterEach(() => bench?.close());

  /** The `n`th match (from 1) of `re` in the console after `from`, waited for. */
  async function consoleMatch(re: RegExp, from: number, n: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = [...bench.console().slice(from).matchAll(new RegExp(re.source, "g"))];
      if (all.length >= n) return all[n - 1]!;
      if (Date.now() > deadline) throw new Error(`no ${re} (#${n}) in:\n${bench.console().slice(from)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("reconnects on the device's own back-off (1 s doubling, each halved at random), subscribes again at QoS 1, answers as before", async () => {
    const port = `${mosquitto.url}/${(await bench.board.waitReady()).deviceId}`;
    const call = async () => {
      const client = new RpcClient(new MqttTransport(new URL(port)), { timeoutMs: 5000 });
      try {
        return await client.call("OTA.GetBootState");
      } finally {
        await client.close();
      }
    };
    assert.equal(((await call()) as { active_slot: number }).active_slot, 0);
    assert.match(bench.console(), /mqtt: subscribed to esp32_\w+\/rpc, esp32_\w+\/rpc\/# \(QoS 1, 1 granted, 1 asked\)/);
    const mark = bench.console().length;
    await mosquitto.stop();
    // Each wait is on the board's own clock: the test moves it, the board's socket finds the broker gone.
    const waits: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const m = await consoleMatch(/mqtt: (?:lost|cannot connect to) 127\.0\.0\.1:\d+; trying again in (\d+) ms/, mark, i);
      waits.push(Number(m[1]));
      if (i < 3) await bench.board.advanceClock(waits[i - 1]!);
    }
    waits.forEach((w, i) => assert.ok(w >= 500 * 2 ** i && w <= 1000 * 2 ** i, `waits ${waits}`));
    await mosquitto.start();
    await bench.board.advanceClock(waits[2]!);
    await consoleMatch(/mqtt: subscribed to /, mark, 1);
    assert.equal(((await call()) as { active_slot: number }).active_slot, 0);
    assert.equal(bench.board.bootCount, 1, "the board did not reboot");
  });
});

describe("xs-ota sim --mqtt URL", function () {
  this.timeout(60_000);

  let mosquitto: Mosquitto;
  let sim: RunningSim;
  before(async () => {
    mosquitto = await startMosquitto();
    sim = await startSim(["--mqtt", mosquitto.url]);
  });
  after(async () => {
    await sim?.stop();
    await mosquitto?.close();
  });

  it("connects the board to that broker instead of its own, and says so", async () => {
    assert.equal(sim.mqttBroker, mosquitto.url);
    const r = await runCli(["--port", `${mosquitto.url}/${sim.deviceId}`, "call", "RPC.Ping"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).channel_info, new RegExp(`^127\\.0\\.0\\.1:${mosquitto.port}$`));
  });
});
