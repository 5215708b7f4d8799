// SLIP framing of the ESP32 serial loader (spec/esp-idf.md §9): every packet
// starts and ends with 0xC0; inside, 0xC0 travels as DB DC and 0xDB as DB DD.
// The loader reads bytes that may hold console text between packets (a
// running app's log, a boot banner), so the decoder ignores bytes outside a
// packet and gives up on a packet that grows past its limit instead of
// swallowing the line forever.

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

export function encodeSlip(payload: Uint8Array): Buffer {
  const out: number[] = [SLIP_END];
  for (const byte of payload) {
    if (byte === SLIP_END) out.push(SLIP_ESC, SLIP_ESC_END);
    else if (byte === SLIP_ESC) out.push(SLIP_ESC, SLIP_ESC_ESC);
    else out.push(byte);
  }
  out.push(SLIP_END);
  return Buffer.from(out);
}

export class SlipDecoder {
  readonly #maxPacket: number;
  #packet: number[] | undefined;
  #escaping = false;

  /** @param maxPacket longest decoded packet accepted; a longer one is dropped. */
  constructor(maxPacket: number) {
    this.#maxPacket = maxPacket;
  }

  /** Feed received bytes; returns the packets they complete, in order. */
  push(bytes: Uint8Array): Buffer[] {
    const packets: Buffer[] = [];
    for (const byte of bytes) {
      if (byte === SLIP_END) {
        // An END closes the open packet; back-to-back ENDs (C0 C0 between two
        // packets) open an empty one that the next END closes without output.
        if (this.#packet?.length) packets.push(Buffer.from(this.#packet));
        this.#packet = [];
        this.#escaping = false;
        continue;
      }
      const packet = this.#packet;
      if (!packet) continue;
      if (this.#escaping) {
        this.#escaping = false;
        if (byte === SLIP_ESC_END) packet.push(SLIP_END);
        else if (byte === SLIP_ESC_ESC) packet.push(SLIP_ESC);
        else this.#packet = undefined; // a broken escape ruins the packet: wait for the next END
      } else if (byte === SLIP_ESC) {
        this.#escaping = true;
      } else {
        packet.push(byte);
      }
      if (this.#packet && this.#packet.length > this.#maxPacket) this.#packet = undefined;
    }
    return packets;
  }

  reset(): void {
    this.#packet = undefined;
    this.#escaping = false;
  }
}
