import assert from "node:assert/strict";
import net from "node:net";
import { Rfc2217Client } from "./com-port-client.ts";
import { ComPortServer, SIGNATURE } from "./com-port-server.ts";
import { DO, DONT, IAC, Option, TelnetDecoder, WILL, WONT, negotiation, subnegotiation, type TelnetEvent } from "./telnet.ts";
import type { ModemLines } from "./auto-reset.ts";

/** A raw client: what it sends is bytes, what it gets is Telnet events. */
async function rawClient(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  const decoder = new TelnetDecoder();
  const events: TelnetEvent[] = [];
  socket.on("data", (chunk: Buffer) => events.push(...decoder.push(chunk)));
  const settle = () => new Promise((r) => setTimeout(r, 50));
  return { socket, events, settle };
}

describe("the RFC 2217 server of the virtual board's UART", () => {
  let server: ComPortServer;
  let port: number;

  beforeEach(async () => {
    server = new ComPortServer();
    port = await server.listen(0);
  });

  afterEach(() => server.close());

  it("agrees to BINARY, SGA and COM-PORT-OPTION once each and refuses the rest (pySerial's opening)", async () => {
    const c = await rawClient(port);
    for (const [verb, option] of [[DO, Option.ECHO], [WILL, Option.SGA], [DO, Option.SGA], [DO, Option.COM_PORT], [WILL, Option.COM_PORT], [WILL, Option.COM_PORT]] as const) {
      c.socket.write(negotiation(verb, option));
    }
    await c.settle();
    assert.deepEqual(c.events, [
      { kind: "negotiate", verb: WONT, option: Option.ECHO },
      { kind: "negotiate", verb: DO, option: Option.SGA },
      { kind: "negotiate", verb: WILL, option: Option.SGA },
      { kind: "negotiate", verb: WILL, option: Option.COM_PORT },
      { kind: "negotiate", verb: DO, option: Option.COM_PORT },
    ]);
    c.socket.write(negotiation(DONT, Option.SGA));
    await c.settle();
    assert.deepEqual(c.events.at(-1), { kind: "negotiate", verb: WONT, option: Option.SGA });
    c.socket.destroy();
  });

  it("answers each com port command by its code + 100 with the value in effect", async () => {
    const c = await rawClient(port);
    const bauds: number[] = [];
    server.on("baud", (b) => bauds.push(b));
    const baud = Buffer.alloc(4);
    baud.writeUInt32BE(921600);
    for (const payload of [[0], [1, ...baud], [1, 0, 0, 0, 0], [2, 7], [3, 2], [4, 1], [5, 7], [5, 0], [12, 1]]) {
      c.socket.write(subnegotiation(Option.COM_PORT, Buffer.from(payload)));
    }
    await c.settle();
    const answers = c.events.map((e) => (e.kind === "subnegotiation" ? [...e.payload] : []));
    assert.deepEqual(answers, [
      [100, ...Buffer.from(SIGNATURE)],
      [101, ...baud],
      [101, ...baud], // 0 asks: the rate in effect
      [102, 8], // 8 data bits whatever is asked
      [103, 1], // no parity
      [104, 1], // one stop bit
      [105, 9], // REQ_DTR: off until set
      [105, 1], // REQ_FLOW: none
      [112, 1], // purge accepted
    ]);
    assert.deepEqual(bauds, [921600]);
    c.socket.destroy();
  });

  it("passes data both ways with 0xFF doubled on the wire, and reports line changes, dropped when the port closes", async () => {
    const received: Buffer[] = [];
    const lines: ModemLines[] = [];
    server.on("data", (b) => received.push(b));
    server.on("lines", (l) => lines.push(l));
    const client = await Rfc2217Client.open(port);
    client.write(Buffer.from([1, IAC, 2]));
    server.write(Buffer.from([IAC, 3]));
    await client.setLines({ dtr: true, rts: true });
    await client.setLines({ dtr: false });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(Buffer.concat(received), Buffer.from([1, IAC, 2]));
    assert.deepEqual(client.received, Buffer.from([IAC, 3]));
    const closed = new Promise<void>((r) => server.once("disconnect", () => r()));
    await client.close();
    await closed;
    assert.deepEqual(lines, [
      { dtr: true, rts: false },
      { dtr: true, rts: true },
      { dtr: false, rts: true },
      { dtr: false, rts: false },
    ]);
  });

  it("has one owner at a time, as a serial port does: a second connection is told who holds it and closed", async () => {
    const first = await Rfc2217Client.open(port);
    const second = net.connect(port, "127.0.0.1");
    let text = "";
    second.on("data", (b: Buffer) => (text += b.toString()));
    await new Promise((r) => second.once("close", r));
    assert.match(text, /^the board's UART is in use by 127\.0\.0\.1:\d+/);
    await first.close();
  });
});
