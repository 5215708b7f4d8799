// Telnet framing (RFC 854, 855), as RFC 2217 rides on it: data bytes, with
// 0xFF doubled; option negotiation IAC WILL/WONT/DO/DONT <option>; and
// subnegotiation IAC SB <option> ... IAC SE, inside which 0xFF is doubled too.
// The decoder keeps its state across reads: a TCP segment may end anywhere.

export const IAC = 0xff;
export const DONT = 0xfe;
export const DO = 0xfd;
export const WONT = 0xfc;
export const WILL = 0xfb;
export const SB = 0xfa;
export const SE = 0xf0;

export const Option = { BINARY: 0x00, ECHO: 0x01, SGA: 0x03, COM_PORT: 0x2c } as const;

export type Verb = typeof WILL | typeof WONT | typeof DO | typeof DONT;

export type TelnetEvent =
  | { kind: "data"; bytes: Buffer }
  | { kind: "negotiate"; verb: Verb; option: number }
  | { kind: "subnegotiation"; option: number; payload: Buffer };

/** Longest subnegotiation kept: RFC 2217's are a few bytes (a signature a few dozen). */
const MAX_SUBNEGOTIATION = 256;

type State = "data" | "iac" | "verb" | "sb" | "sb-iac";

export class TelnetDecoder {
  #state: State = "data";
  #verb: Verb = WILL;
  #sub: number[] = [];

  push(chunk: Uint8Array): TelnetEvent[] {
    const events: TelnetEvent[] = [];
    let data: number[] = [];
    const flush = () => {
      if (data.length) events.push({ kind: "data", bytes: Buffer.from(data) });
      data = [];
    };
    for (const byte of chunk) {
      switch (this.#state) {
        case "data":
          if (byte === IAC) this.#state = "iac";
          else data.push(byte);
          break;
        case "iac":
          if (byte === IAC) {
            data.push(IAC);
            this.#state = "data";
          } else if (byte === WILL || byte === WONT || byte === DO || byte === DONT) {
            this.#verb = byte;
            this.#state = "verb";
          } else if (byte === SB) {
            this.#sub = [];
            this.#state = "sb";
          } else {
            this.#state = "data"; // NOP, AYT, BRK...: nothing a serial port acts on
          }
          break;
        case "verb":
          flush();
          events.push({ kind: "negotiate", verb: this.#verb, option: byte });
          this.#state = "data";
          break;
        case "sb":
          if (byte === IAC) this.#state = "sb-iac";
          else if (this.#sub.length < MAX_SUBNEGOTIATION) this.#sub.push(byte);
          break;
        case "sb-iac":
          if (byte === SE) {
            flush();
            const [option, ...payload] = this.#sub;
            if (option !== undefined) events.push({ kind: "subnegotiation", option, payload: Buffer.from(payload) });
            this.#state = "data";
          } else {
            if (byte === IAC && this.#sub.length < MAX_SUBNEGOTIATION) this.#sub.push(IAC);
            this.#state = "sb";
          }
          break;
      }
    }
    flush();
    return events;
  }
}

/** Data for the wire: every 0xFF doubled. */
export function escapeData(bytes: Uint8Array): Buffer {
  if (!bytes.includes(IAC)) return Buffer.from(bytes);
  const out: number[] = [];
  for (const byte of bytes) {
    out.push(byte);
    if (byte === IAC) out.push(IAC);
  }
  return Buffer.from(out);
}

export function negotiation(verb: Verb, option: number): Buffer {
  return Buffer.from([IAC, verb, option]);
}

export function subnegotiation(option: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, option]), escapeData(payload), Buffer.from([IAC, SE])]);
}
