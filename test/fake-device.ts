// A small device that follows spec/mos-rpc.md §2 literally, written for the
// tests and independent of modules/rpc, so the client is checked against the
// spec rather than against itself. It answers over a serial port and HTTP.

import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { SerialPort } from "serialport";

export const DEVICE_ID = "esp32_FAKE01";

type Behaviour = (params: unknown) => { result: string } | { error: string } | "silent";

/** Methods of the fake device; result and error are raw JSON texts. */
const METHODS: Record<string, Behaviour> = {
  "RPC.Ping": () => ({ result: '{"channel_info":"fake"}' }),
  "RPC.List": () => ({ result: '["RPC.List","RPC.Ping","Echo","Big","Slow","Fail"]' }),
  Echo: (params) => ({ result: JSON.stringify(params ?? null) }),
  Big: () => ({ result: '{"n":18446744073709551617}' }),
  Slow: () => "silent",
  Fail: () => ({ error: '{"code":-1,"message":"it failed"}' }),
  Zero: () => ({ error: '{"code":0,"message":"Update applied, finalizing"}' }),
};

const ID_RE = /"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")/;

/** The reply to one request frame, with the id copied as raw text; undefined for none. */
export function replyTo(frame: string): string | undefined {
  let req: { method?: string; src?: string; params?: unknown; args?: unknown };
  try {
    req = JSON.parse(frame);
  } catch {
    return undefined;
  }
  const id = ID_RE.exec(frame)?.[1];
  if (id === undefined || !req.method) return undefined;
  const behaviour = METHODS[req.method];
  const outcome = behaviour ? behaviour(req.params ?? req.args) : { error: `{"code":404,"message":"No handler for ${req.method}"}` };
  if (outcome === "silent") return undefined;
  const dst = req.src ? `,"dst":${JSON.stringify(req.src)}` : "";
  const body = "result" in outcome ? `"result":${outcome.result}` : `"error":${outcome.error}`;
  return `{"id":${id},"src":"${DEVICE_ID}"${dst},${body}}`;
}

const crcHex = (s: string) => zlib.crc32(Buffer.from(s, "latin1")).toString(16).padStart(8, "0");

export interface FakeSerialDevice {
  /** Every frame received, as the raw piece between delimiters (JSON + CRC). */
  readonly received: string[];
  close(): Promise<void>;
}

/** A device on a serial port: boot log, then mgrpc with `"""` compat, CRC and the handshake. */
export async function startSerialDevice(path: string): Promise<FakeSerialDevice> {
  const port = new SerialPort({ path, baudRate: 115200 });
  await new Promise<void>((resolve, reject) => port.once("open", resolve).once("error", reject));
  const received: string[] = [];
  let buffer = "";
  let compat = false;
  let crc = false;
  const send = (s: string) => port.write(Buffer.from(s, "latin1"));
  send("ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nI (29) boot: fake device\n");
  port.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("latin1");
    for (;;) {
      let end = buffer.indexOf('"""');
      let len = 3;
      if (end >= 0) compat = true;
      else {
        end = buffer.indexOf("\n");
        len = 1;
        if (end < 0) break;
      }
      const piece = buffer.slice(0, end);
      buffer = buffer.slice(end + len);
      if (piece.trim() === "") send("\n");
      else if (piece === "\x04") send('"""\x04"""');
      else {
        received.push(piece);
        const last = piece.lastIndexOf("}");
        const json = piece.slice(piece.indexOf("{"), last + 1);
        const meta = piece.slice(last + 1);
        if (meta.length >= 8) {
          if (meta.slice(0, 8) !== crcHex(json)) continue;
          crc = true;
        }
        const reply = replyTo(json);
        if (reply === undefined) continue;
        // Console chatter between frames, as a real firmware logs.
        send("I (1234) fake: handling a call\n");
        const q = compat ? '"""' : "";
        send(`\n${q}${reply}${crc ? crcHex(reply) : ""}${q}\n`);
      }
    }
  });
  return {
    received,
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}

export interface FakeHttpDevice {
  readonly url: string;
  close(): Promise<void>;
}

/** A device answering frames POSTed to /rpc, as mgrpc's HTTP channel does. */
export async function startHttpDevice(): Promise<FakeHttpDevice> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url !== "/rpc" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const reply = replyTo(Buffer.concat(chunks).toString("utf8"));
      if (reply === undefined) return; // a silent device: the client must time out
      const body = reply + "\r\n";
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), Connection: "close" }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/rpc`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
