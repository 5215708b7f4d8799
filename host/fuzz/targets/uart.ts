// The UART: bytes written to the board's pseudo-terminal (serialport, raw),
// as mos and a console user would, and worse: frames with and without CRC
// (right and wrong), the `"""` wrapper and the EOF handshake, several frames
// in one write, a frame in small pieces, overlong lines, quote games,
// XON/XOFF, line noise and bytes >= 0x80, all then mutated at the byte level.
//
// After each case a plain RPC.Ping line (after a newline that ends whatever
// the case left half-read) must be answered within a second: the channel
// still frames. The oracle's probe speaks exactly what mos does.

import { SerialPort } from "serialport";
import { HANDSHAKE_PROBE, UartReader, encodeMosFrame } from "../../client/uart-reader.ts";
import { SyncWatcher } from "../../vboard/download-mode.ts";
import { crc32, crcHex } from "rpc/crc32";
import type { FuzzBoard } from "../board.ts";
import { generateFrame, heavyJson, jsonString } from "../json-gen.ts";
import { mutateSafely } from "../mutate.ts";
import { mentionsGuarded } from "../policy.ts";
import type { Rng } from "../prng.ts";
import { b64, type CaseResult, type FuzzTarget, type GenContext, unb64, withDeviceId } from "../target.ts";

export interface UartPayload {
  /** Written in order, each after the previous one and its delay. */
  readonly writes: ReadonlyArray<{ readonly b64: string; readonly delayMs?: number }>;
}

const MARKER_BASE = 900_000_000;

class HostStall extends Error {}

function crcOf(json: string): string {
  return crcHex(crc32(Buffer.from(json, "utf8")));
}

/** One frame on the line, in one of the ways mos and other hosts write it, right or wrong. */
function encodeLine(rng: Rng, json: string): { bytes: Buffer; style: string } {
  const style = rng.weighted([
    [4, "plain"], [3, "crc"], [4, "mos"], [1, "mos-nocrc"], [1, "bad-crc"], [1, "crlf"], [1, "junk-before"], [1, "crc-upper"], [1, "meta"], [1, "open-compat"],
  ] as const);
  const crc = crcOf(json);
  const text = {
    plain: `${json}\n`,
    crc: `${json}${crc}\n`,
    mos: `\n"""${json}${crc}"""\n`,
    "mos-nocrc": `"""${json}"""`,
    "bad-crc": `${json}${crcHex((parseInt(crc, 16) ^ (1 << rng.int(32))) >>> 0)}\n`,
    crlf: `${json}\r\n`,
    "junk-before": `${rng.pick(["ets Jun  8", "garbage ", "\x1b[0m", "I (12) main: ", "\t"])}${json}\n`,
    "crc-upper": `${json}${crc.toUpperCase()}\n`,
    meta: `${json}${crc} ${rng.pick(["x", "12345678", "\x00", "foo bar"])}\n`,
    "open-compat": `"""${json}\n`,
  }[style];
  return { bytes: Buffer.from(text, "utf8"), style };
}

export class UartTarget implements FuzzTarget<UartPayload> {
  readonly name = "uart" as const;
  readonly batchSize = 100;
  #board!: FuzzBoard;
  #port: SerialPort | undefined;
  #reader = new UartReader();
  #waiters = new Map<string, () => void>();
  #handshakes: Array<() => void> = [];
  #marker = 0;
  #bytesIn = 0;
  #stalls = 0;
  #injected: string | undefined;

  async setup(board: FuzzBoard): Promise<void> {
    this.#board = board;
    await this.reconnect();
  }

  async reconnect(): Promise<void> {
    this.#injected = undefined;
    if (this.#port?.isOpen) return;
    const port = new SerialPort({ path: this.#board.board.uartPath, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("data", (chunk: Buffer) => this.#receive(chunk));
    port.on("error", () => {});
    this.#port = port;
  }

  #receive(chunk: Buffer): void {
    this.#bytesIn += chunk.length;
    // The board's own output is ASCII text, newlines, and the handshake's EOF: any other control byte came from the input.
    // XON/XOFF stop a host that uses flow control (spec/mos-rpc.md §7.5); ESC sequences drive its terminal.
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if ((c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0x04) || c === 0x7f) {
        this.#injected ??= `the board wrote byte 0x${c.toString(16).padStart(2, "0")} on the UART: ${JSON.stringify(chunk.subarray(Math.max(0, i - 60), i + 20).toString("latin1"))}`;
      }
    }
    for (const out of this.#reader.push(chunk)) {
      if (out.kind === "handshake") for (const h of this.#handshakes.splice(0)) h();
      if (out.kind !== "frame") continue;
      const id = /"id":(\d+)/.exec(out.json)?.[1];
      if (id) this.#waiters.get(id)?.();
    }
  }

  /**
   * Write in pieces of at most 4 KB, each drained, each within 5 s: a UART
   * never takes a burst at once, and a pseudo-terminal that stops taking
   * bytes is the host's trouble, not the board's (the supervisor reads the
   * terminal whether the board runs or not): the port is opened again.
   */
  async #write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += 4096) {
      const port = this.#port!;
      const piece = Buffer.from(bytes.subarray(at, at + 4096));
      const done = new Promise<boolean>((resolve) => port.write(piece, (e) => (e ? resolve(false) : port.drain(() => resolve(true)))));
      const ok = await Promise.race([done, new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!ok) {
        this.#stalls++;
        await new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
        this.#port = undefined;
        await this.reconnect();
        throw new HostStall("the pseudo-terminal took no bytes for 5 s; opened it again");
      }
    }
  }

  /** Resolve true when the frame with `id` is answered within `ms`. */
  #answered(id: number, ms: number): { promise: Promise<boolean> } {
    const key = String(id);
    return {
      promise: new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => (this.#waiters.delete(key), resolve(false)), ms);
        this.#waiters.set(key, () => (clearTimeout(timer), this.#waiters.delete(key), resolve(true)));
      }),
    };
  }

  generate(rng: Rng, ctx: GenContext): { generator: string; payload: UartPayload } {
    for (let attempt = 0; ; attempt++) {
      const { generator, writes } = this.#generate(rng, ctx);
      // A SLIP SYNC would send the board into the ROM's download mode (host/vboard/README.md): not a UART fault.
      const all = Buffer.concat(writes.map((w) => w.bytes));
      if (new SyncWatcher().push(all) && attempt < 8) continue;
      return { generator, payload: { writes: writes.map((w) => ({ b64: b64(w.bytes), ...(w.delayMs ? { delayMs: w.delayMs } : {}) })) } };
    }
  }

  #generate(rng: Rng, ctx: GenContext): { generator: string; writes: Array<{ bytes: Buffer; delayMs?: number }> } {
    const kind = rng.weighted([
      [30, "frame"], [22, "mutated"], [8, "pipelined"], [6, "pieces"], [6, "handshake"], [8, "noise"], [6, "overlong"], [6, "quotes"], [3, "xonxoff"], [5, "heavy"],
    ] as const);
    const frame = () => generateFrame(rng, ctx.frames);
    switch (kind) {
      case "frame": {
        const f = frame();
        const line = encodeLine(rng, f.text);
        return { generator: `frame/${line.style}${f.guarded ? "/guarded " + f.method : ""}`, writes: [{ bytes: line.bytes }] };
      }
      case "mutated": {
        let f = frame();
        for (let i = 0; f.guarded && i < 8; i++) f = frame();
        if (f.guarded) return { generator: "frame/plain", writes: [{ bytes: Buffer.from(f.text + "\n") }] };
        const line = encodeLine(rng, f.text);
        const m = mutateSafely(rng, line.bytes, Buffer.from(frame().text));
        if (!m) return { generator: `frame/${line.style}`, writes: [{ bytes: line.bytes }] };
        return { generator: `mutated/${line.style}/${m.ops.join(",")}`, writes: [{ bytes: m.bytes }] };
      }
      case "pipelined": {
        const n = rng.range(2, 12);
        const parts: Buffer[] = [];
        for (let i = 0; i < n; i++) parts.push(encodeLine(rng, frame().text).bytes);
        return { generator: `pipelined/${n}`, writes: [{ bytes: Buffer.concat(parts) }] };
      }
      case "pieces": {
        const f = frame();
        const line = encodeLine(rng, f.text).bytes;
        const writes: Array<{ bytes: Buffer; delayMs?: number }> = [];
        for (let at = 0; at < line.length; ) {
          const n = rng.range(1, 64);
          writes.push({ bytes: line.subarray(at, at + n), delayMs: rng.chance(0.3) ? rng.range(1, 5) : 0 });
          at += n;
        }
        return { generator: `pieces/${writes.length}${f.guarded ? "/guarded " + f.method : ""}`, writes };
      }
      case "handshake": {
        const variant = rng.pick(["probe", "eof-line", "probes", "newlines", "partial", "eof-in-frame"] as const);
        const n = rng.range(1, 200);
        const text = {
          probe: '"""\x04"""\n\n',
          "eof-line": "\x04\n",
          probes: '"""\x04"""\n\n'.repeat(n),
          newlines: "\n".repeat(n * 5),
          partial: rng.pick(['"""\x04', '""\x04""', '"""\x04"""', '\x04"""\n', '""""""\n']),
          "eof-in-frame": `{"id":1,"src":"\x04","method":"RPC.Ping"}\n`,
        }[variant];
        return { generator: `handshake/${variant}`, writes: [{ bytes: Buffer.from(text, "latin1") }] };
      }
      case "noise": {
        let bytes = rng.bytes(rng.length(4096));
        if (rng.chance(0.5)) bytes = Buffer.concat([Buffer.from('{"id":5,"src":"n","method":"RPC.Ping","x":"'), bytes, Buffer.from('"}\n')]);
        if (mentionsGuarded(bytes)) bytes = Buffer.from("noise\n");
        return { generator: `noise/${bytes.length}`, writes: [{ bytes }] };
      }
      case "overlong": {
        const size = rng.weighted([[8, rng.pick([4095, 4096, 4097, 4159, 4160, 4161])], [3, rng.pick([8192, 16384])], [1, 65536]]);
        const end = rng.pick(["\n", '"""', "", "\r\n"]);
        const body = `{"id":7,"src":"o","method":"RPC.Ping","params":{"pad":"${"p".repeat(Math.max(0, size - 60))}"}}`;
        const withCrc = rng.chance(0.5) ? body + crcOf(body) : body;
        return { generator: `overlong/${size}/${JSON.stringify(end)}`, writes: [{ bytes: Buffer.from(withCrc + end) }] };
      }
      case "quotes": {
        const pieces: string[] = [];
        const n = rng.range(1, 20);
        for (let i = 0; i < n; i++) {
          pieces.push(rng.weighted([[4, '"'.repeat(rng.range(1, 7))], [2, frame().text], [1, "\n"], [1, jsonString(rng, 20)], [1, "\x04"]]));
        }
        let text = pieces.join("");
        if (mentionsGuarded(text)) text = text.replace(/[A-Za-z]+\.[A-Za-z]+/g, "RPC.Ping");
        return { generator: `quotes/${n}`, writes: [{ bytes: Buffer.from(text + (rng.chance(0.5) ? "\n" : ""), "utf8") }] };
      }
      case "xonxoff": {
        const f = frame();
        const line = encodeLine(rng, f.text).bytes;
        const out: number[] = [];
        for (const b of line) {
          if (rng.chance(0.1)) out.push(rng.pick([0x11, 0x13]));
          out.push(b);
        }
        return { generator: `xonxoff${f.guarded ? "/guarded " + f.method : ""}`, writes: [{ bytes: Buffer.from(out) }] };
      }
      default: {
        const json = `{"id":${rng.range(1, 1e6)},"src":"h","method":"RPC.Ping","params":${heavyJson(rng)}}`;
        return { generator: `heavy/${json.length}`, writes: [{ bytes: encodeLine(rng, json).bytes }] };
      }
    }
  }

  async execute(payload: UartPayload): Promise<CaseResult> {
    let size = 0;
    try {
      for (const w of payload.writes) {
        const bytes = withDeviceId(unb64(w.b64), this.#board.deviceId);
        size += bytes.length;
        await this.#write(bytes);
        if (w.delayMs) await new Promise((r) => setTimeout(r, w.delayMs));
      }
    } catch (e) {
      if (e instanceof HostStall) return { note: e.message, counts: { hostStalls: 1 } };
      throw e;
    }
    const id = MARKER_BASE + ++this.#marker;
    // The board reads its UART at some 100 KB/s (about ten times a 115200-baud line): give a big case its time.
    const answered = this.#answered(id, 1000 + size / 20);
    await this.#write(Buffer.from(`\n{"id":${id},"src":"fz","method":"RPC.Ping"}\n`));
    if (await answered.promise) return {};
    return { note: "the RPC.Ping after the case got no answer within 1 s", suspect: true, counts: { markerLost: 1 } };
  }

  /** As mos does it: handshake, then the frame wrapped in `"""` with its CRC. */
  async probe(): Promise<void> {
    try {
      await this.#probeOnce();
    } catch (e) {
      if (!(e instanceof HostStall)) throw e;
      await this.#probeOnce();
    }
  }

  async #probeOnce(): Promise<void> {
    const handshake = new Promise<void>((resolve) => this.#handshakes.push(resolve));
    await this.#write(Buffer.concat([Buffer.from("\n"), HANDSHAKE_PROBE]));
    await Promise.race([handshake, new Promise((r) => setTimeout(r, 1000))]);
    const id = MARKER_BASE + ++this.#marker;
    const answered = this.#answered(id, 4000);
    await this.#write(encodeMosFrame(`{"id":${id},"src":"fuzz-probe","method":"RPC.Ping"}`));
    if (!(await answered.promise)) throw new Error("RPC.Ping over the UART (mos framing): no answer within 4 s");
  }

  statusOk(state: number): boolean {
    return state === 0;
  }

  injection(): string | undefined {
    const seen = this.#injected;
    this.#injected = undefined;
    return seen;
  }

  figures(): Record<string, unknown> {
    return { bytesFromBoard: this.#bytesIn, hostStalls: this.#stalls };
  }

  async teardown(): Promise<void> {
    const port = this.#port;
    this.#port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }
}
