// An RFC 2217 (Telnet Com Port Control) server for the board's UART: what a
// USB-serial chip gives a bench, including its DTR and RTS lines, which a
// pseudo-terminal cannot carry. esptool and pySerial open it as
// rfc2217://127.0.0.1:PORT (with or without ?ign_set_control: every request
// is answered as RFC 2217 says, by its code + 100 and the value in effect).
//
// One client at a time, as a serial port has one owner; a second connection
// is told so and closed. The client's data goes to the UART's RX, the UART's
// TX to the client; line changes go to the board's auto-reset circuit.

import { EventEmitter } from "node:events";
import net from "node:net";
import { DO, DONT, Option, TelnetDecoder, WILL, WONT, escapeData, negotiation, subnegotiation, type Verb } from "./telnet.ts";
import type { ModemLines } from "./auto-reset.ts";

/** Client-to-server Com Port Option commands (RFC 2217 section 3); the server answers each with +100. */
const Command = {
  SIGNATURE: 0,
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  PURGE_DATA: 12,
} as const;
const SERVER_REPLY = 100;

/** SET_CONTROL values (RFC 2217 section 3, "SET-CONTROL"). */
const Control = {
  REQ_FLOW: 0,
  NO_FLOW: 1,
  REQ_BREAK: 4,
  BREAK_OFF: 6,
  REQ_DTR: 7,
  DTR_ON: 8,
  DTR_OFF: 9,
  REQ_RTS: 10,
  RTS_ON: 11,
  RTS_OFF: 12,
} as const;

/** The options a client may turn on, in either direction: 8-bit data, no go-ahead, the com port itself. */
const AGREED = new Set<number>([Option.BINARY, Option.SGA, Option.COM_PORT]);

export const SIGNATURE = "xs-ota virtual board UART";

export interface ComPortServerEvents {
  data: [bytes: Buffer];
  lines: [lines: ModemLines];
  baud: [baud: number];
  connect: [peer: string];
  disconnect: [];
}

export class ComPortServer extends EventEmitter<ComPortServerEvents> {
  readonly #server = net.createServer((socket) => this.#accept(socket));
  #client: net.Socket | undefined;
  #baud = 115200;
  #lines: ModemLines = { dtr: false, rts: false };

  /** Listen on 127.0.0.1:port (0: one the system picks); resolves with the port. */
  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", (e: NodeJS.ErrnoException) =>
        reject(e.code === "EADDRINUSE" ? new Error(`RFC 2217 port ${port} is in use: pick another with --rfc2217-port`) : e),
      );
      this.#server.listen(port, "127.0.0.1", () => resolve());
    });
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** The TCP port it listens on (undefined before listen()). */
  get port(): number | undefined {
    return (this.#server.address() as net.AddressInfo | null)?.port;
  }

  /** UART TX: to the client, if one is connected (a UART with nobody listening drops its bytes). */
  write(bytes: Uint8Array): void {
    if (this.#client?.writable) this.#client.write(escapeData(bytes));
  }

  async close(): Promise<void> {
    this.#client?.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(socket: net.Socket): void {
    if (this.#client) {
      socket.end(`the board's UART is in use by ${this.#client.remoteAddress}:${this.#client.remotePort}\r\n`);
      return;
    }
    this.#client = socket;
    socket.setNoDelay(true);
    const decoder = new TelnetDecoder();
    // Options the server has agreed to, per direction, so that an answer is not answered again (RFC 854's loop rule).
    const agreed = { we: new Set<number>(), they: new Set<number>() };
    socket.on("data", (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.kind === "data") this.emit("data", event.bytes);
        else if (event.kind === "negotiate") this.#negotiate(socket, agreed, event.verb, event.option);
        else if (event.option === Option.COM_PORT) this.#comPortCommand(socket, event.payload);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#client = undefined;
      // The port is closed: a USB-serial chip stops driving its lines.
      this.#setLines({ dtr: false, rts: false });
      this.emit("disconnect");
    });
    this.emit("connect", `${socket.remoteAddress}:${socket.remotePort}`);
  }

  #negotiate(socket: net.Socket, agreed: { we: Set<number>; they: Set<number> }, verb: Verb, option: number): void {
    // WILL/WONT are about the client's side ("they"), DO/DONT about ours ("we").
    const side = verb === WILL || verb === WONT ? agreed.they : agreed.we;
    const wanted = verb === WILL || verb === DO;
    if (wanted && AGREED.has(option)) {
      if (side.has(option)) return;
      side.add(option);
      socket.write(negotiation(verb === WILL ? DO : WILL, option));
    } else if (wanted) {
      socket.write(negotiation(verb === WILL ? DONT : WONT, option));
    } else if (side.delete(option)) {
      socket.write(negotiation(verb === WONT ? DONT : WONT, option));
    }
  }

  #comPortCommand(socket: net.Socket, payload: Buffer): void {
    const [command, ...rest] = payload;
    if (command === undefined || command >= SERVER_REPLY) return;
    const value = Buffer.from(rest);
    const answer = (bytes: Uint8Array): void => {
      socket.write(subnegotiation(Option.COM_PORT, Buffer.concat([Buffer.from([command + SERVER_REPLY]), bytes])));
    };
    switch (command) {
      case Command.SIGNATURE:
        return answer(Buffer.from(SIGNATURE, "ascii"));
      case Command.SET_BAUDRATE: {
        // 0 asks for the rate in effect. The virtual UART runs at whatever rate is asked.
        const baud = value.length >= 4 ? value.readUInt32BE(0) : 0;
        if (baud > 0 && baud !== this.#baud) {
          this.#baud = baud;
          this.emit("baud", baud);
        }
        const out = Buffer.alloc(4);
        out.writeUInt32BE(this.#baud);
        return answer(out);
      }
      case Command.SET_DATASIZE:
        return answer(Buffer.from([8])); // 8N1 is the only framing a UART0 console uses
      case Command.SET_PARITY:
      case Command.SET_STOPSIZE:
        return answer(Buffer.from([1])); // NONE; 1 stop bit
      case Command.SET_CONTROL:
        return answer(Buffer.from([this.#control(value[0] ?? Control.REQ_FLOW)]));
      default:
        return answer(value); // masks and purges: accepted as asked (there is no buffer to purge beyond the socket)
    }
  }

  /** One SET_CONTROL request: applied, and the state in effect returned. */
  #control(request: number): number {
    switch (request) {
      case Control.DTR_ON:
      case Control.DTR_OFF:
        this.#setLines({ dtr: request === Control.DTR_ON });
        return request;
      case Control.RTS_ON:
      case Control.RTS_OFF:
        this.#setLines({ rts: request === Control.RTS_ON });
        return request;
      case Control.REQ_DTR:
        return this.#lines.dtr ? Control.DTR_ON : Control.DTR_OFF;
      case Control.REQ_RTS:
        return this.#lines.rts ? Control.RTS_ON : Control.RTS_OFF;
      case Control.REQ_BREAK:
        return Control.BREAK_OFF;
      case Control.REQ_FLOW:
        return Control.NO_FLOW;
      default:
        // Flow control and break: accepted as asked (pySerial checks for its own value). A virtual UART has no
        // FIFO to overrun and no line to hold in break, so neither changes what the board sees.
        return request;
    }
  }

  #setLines(lines: Partial<ModemLines>): void {
    const next = { ...this.#lines, ...lines };
    if (next.dtr === this.#lines.dtr && next.rts === this.#lines.rts) return;
    this.#lines = next;
    this.emit("lines", next);
  }
}
