// The xs-ota command as a user runs it, against a device that follows the
// spec, over a real pseudo-terminal and a real TCP socket.

import assert from "node:assert/strict";
import zlib from "node:zlib";
import { openPtyPair, type PtyPair } from "../../test/pty-pair.ts";
import { startHttpDevice, startSerialDevice, type FakeHttpDevice, type FakeSerialDevice } from "../../test/fake-device.ts";
import { runCli } from "../../test/run-cli.ts";

describe("xs-ota call over HTTP", () => {
  let device: FakeHttpDevice;
  before(async () => (device = await startHttpDevice()));
  after(() => device.close());

  it("calls RPC.Ping and prints the result as pretty JSON", async () => {
    const r = await runCli(["--port", device.url, "call", "RPC.Ping"]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, '{\n  "channel_info": "fake"\n}\n');
    assert.equal(r.code, 0);
  });
  it("passes JSON args as params", async () => {
    const r = await runCli(["--port", device.url, "call", "Echo", '{"a":[1,"x"]}']);
    assert.equal(r.stdout, '{\n  "a": [\n    1,\n    "x"\n  ]\n}\n');
  });
  it("prints a remote error and exits 1", async () => {
    const r = await runCli(["--port", device.url, "call", "Nope"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "remote error 404: No handler for Nope\n");
    assert.equal(r.stdout, "");
  });
  it("treats error code 0 as success, as mos does", async () => {
    const r = await runCli(["--port", device.url, "call", "Zero"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "null\n");
  });
  it("reports a timeout clearly", async () => {
    const r = await runCli(["--port", device.url, "--timeout", "500ms", "call", "Slow"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `no reply to Slow from ${device.url} within 0.5 s\n`);
  });
  it("reports a port where nothing listens", async () => {
    const r = await runCli(["--port", "http://127.0.0.1:9/rpc", "call", "RPC.Ping"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "cannot reach http://127.0.0.1:9/rpc: connection refused\n");
  });
  it("takes the port from XS_OTA_PORT", async () => {
    const r = await runCli(["call", "RPC.Ping"], { XS_OTA_PORT: device.url });
    assert.equal(r.code, 0);
  });
  it("refuses args that are not JSON, and a missing port, with exit 2", async () => {
    const bad = await runCli(["--port", device.url, "call", "Echo", "{a:1}"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: args must be valid JSON/);
    const noPort = await runCli(["call", "RPC.Ping"], { XS_OTA_PORT: "" });
    assert.equal(noPort.code, 2);
    assert.match(noPort.stderr, /^error: no port: pass --port/);
  });
});

describe("xs-ota call over a serial pseudo-terminal", () => {
  let pty: PtyPair;
  let device: FakeSerialDevice;
  before(async () => {
    pty = await openPtyPair();
    device = await startSerialDevice(pty.device);
  });
  after(async () => {
    await device.close();
    await pty.close();
  });

  it("calls RPC.Ping on /dev/pts/N through boot log and console chatter", async () => {
    assert.match(pty.host, /^\/dev\/pts\/\d+$/);
    const r = await runCli(["--port", pty.host, "call", "RPC.Ping"]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, '{\n  "channel_info": "fake"\n}\n');
    assert.equal(r.code, 0);
  });
  it("sends exactly what mos sends: \"\"\"-wrapped frames with a CRC and a mos id", async () => {
    device.received.length = 0;
    await runCli(["--port", `serial://${pty.host}`, "call", "RPC.List"]);
    assert.equal(device.received.length, 1);
    const m = /^(\{.*\})([0-9a-f]{8})$/.exec(device.received[0]!);
    assert.ok(m, device.received[0]);
    assert.equal(m[2], zlib.crc32(Buffer.from(m[1]!)).toString(16).padStart(8, "0"));
    const frame = JSON.parse(m[1]!);
    assert.equal(frame.src, "mos");
    assert.equal(frame.method, "RPC.List");
    assert.ok(frame.id >= 2 ** 40 && frame.id < 2 ** 41, `id ${frame.id}`);
    assert.equal("params" in frame, false);
  });
  it("prints big numbers with the digits the device sent", async () => {
    const r = await runCli(["--port", pty.host, "call", "Big"]);
    assert.equal(r.stdout, '{\n  "n": 18446744073709551617\n}\n');
  });
  it("shows console lines with --verbose", async () => {
    const r = await runCli(["--port", pty.host, "--verbose", "call", "RPC.Ping"]);
    assert.match(r.stderr, /I \(1234\) fake: handling a call/);
  });
  it("prints a remote error and exits 1", async () => {
    const r = await runCli(["--port", pty.host, "call", "Fail"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "remote error -1: it failed\n");
  });
  it("reports a timeout when the device stays silent", async () => {
    const r = await runCli(["--port", pty.host, "--timeout", "1s", "call", "Slow"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `no reply to Slow from ${pty.host} within 1 s\n`);
  });
});

describe("xs-ota with a wrong serial port", () => {
  it("says the device does not exist", async () => {
    const r = await runCli(["--port", "/dev/ttyDOESNOTEXIST", "call", "RPC.Ping"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "cannot open serial port /dev/ttyDOESNOTEXIST: no such device\n");
  });
  it("says so when nothing answers the handshake", async () => {
    const pty = await openPtyPair();
    try {
      const r = await runCli(["--port", pty.host, "call", "RPC.Ping"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^no response to handshake on \/dev\/pts\/\d+ within 5 s\. Is it the right port\? Is RPC over UART enabled on the device\?\n$/);
    } finally {
      await pty.close();
    }
  });
});
