// A serial line at a stated baud rate, for one direction of the virtual
// board's UART. A pseudo-terminal moves bytes as fast as the processes on
// either end write them; a bench's UART does not: 8N1 puts 10 bits on the
// wire per byte (start, 8 data, stop), so 115200 baud carries 11,520 bytes a
// second, and the USB-serial chip between the UART and the host adds a
// little latency to each write.
//
// Bytes written queue behind what is already on the line and are handed on
// as their stop bits complete, never sooner: the receiver sees a long write
// arrive progressively at line rate, as a UART's receiver does.

/**
 * The USB-serial chip's share of a write's latency: a USB full-speed frame
 * is 1 ms, so a write the host makes waits for the next frame to reach the
 * chip (OUT), and bytes the chip received wait for the host's next poll
 * (IN). A CP2102, or an FTDI with its latency timer set to 1 ms (what
 * esptool and Linux's low_latency setting ask for; the FTDI default of 16 ms
 * only holds short replies back), costs about this much. A write that
 * starts while the line is still busy pays nothing more: the chip already
 * has it queued.
 */
export const USB_SERIAL_LATENCY_MS = 1;

/** 8N1: a start bit, 8 data bits, a stop bit. */
const BITS_PER_BYTE = 10;

/** Node's timers are no finer than a millisecond: bytes are handed on in slices at least this far apart. */
const MIN_SLICE_MS = 1;

export interface PacedLine {
  /** Put bytes on the line; `deliver` gets them as they arrive. */
  write(bytes: Buffer): void;
  /** Drop what is still on the line and stop its timer (the link is going away). */
  close(): void;
}

/** One write on the line: its bytes, and when its first byte's stop bit completes (ms, performance.now()). */
interface Segment {
  bytes: Buffer;
  /** Bytes already handed on. */
  sent: number;
  firstDoneAt: number;
}

/**
 * A line at `baud` (8N1) with the USB-serial chip's latency, handing bytes to
 * `deliver`; no baud rate: the bytes go straight through, as on a bare
 * pseudo-terminal.
 */
export function pacedLine(baud: number | undefined, deliver: (bytes: Buffer) => void): PacedLine {
  if (baud === undefined) return { write: deliver, close: () => {} };
  return new UartPacer(baud, deliver);
}

export class UartPacer implements PacedLine {
  readonly #byteMs: number;
  readonly #deliver: (bytes: Buffer) => void;
  readonly #queue: Segment[] = [];
  /** When the line finishes the last byte queued so far. */
  #lineFreeAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(baud: number, deliver: (bytes: Buffer) => void) {
    if (!(baud > 0)) throw new RangeError(`not a baud rate: ${baud}`);
    this.#byteMs = (BITS_PER_BYTE * 1000) / baud;
    this.#deliver = deliver;
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const start = Math.max(performance.now() + USB_SERIAL_LATENCY_MS, this.#lineFreeAt);
    this.#queue.push({ bytes, sent: 0, firstDoneAt: start + this.#byteMs });
    this.#lineFreeAt = start + bytes.length * this.#byteMs;
    if (!this.#timer) this.#schedule();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  /** Wake when the next byte is through, or a slice from now if that is sooner. */
  #schedule(): void {
    const head = this.#queue[0];
    if (!head) return;
    const due = head.firstDoneAt + head.sent * this.#byteMs;
    this.#timer = setTimeout(() => this.#release(), Math.max(MIN_SLICE_MS, due - performance.now()));
  }

  /** Hand on every byte whose stop bit is through by now, writes merged as the receiver would read them. */
  #release(): void {
    this.#timer = undefined;
    const now = performance.now();
    const ready: Buffer[] = [];
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      const done = Math.min(head.bytes.length, Math.floor((now - head.firstDoneAt) / this.#byteMs) + 1);
      if (done <= head.sent) break;
      ready.push(head.bytes.subarray(head.sent, done));
      head.sent = done;
      if (done < head.bytes.length) break;
      this.#queue.shift();
    }
    if (ready.length) this.#deliver(ready.length === 1 ? ready[0]! : Buffer.concat(ready));
    this.#schedule();
  }
}
