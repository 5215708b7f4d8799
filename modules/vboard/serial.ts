// "embedded:io/serial" (ECMA-419) on the virtual board: UART0 is the board
// process's stdin/stdout, which the supervisor joins to a pseudo-terminal.

export interface SerialOptions {
  port?: number;
  baud: number;
  receive?: number;
  transmit?: number;
  format?: "buffer";
  onReadable?: (this: Serial, count: number) => void;
  onWritable?: (this: Serial, count: number) => void;
}

export default class Serial {
  /**
   * In an onReadable callback, whether it has read once already. A callback
   * gets one read: what came while the firmware worked waits for the run
   * loop's next turn, which calls back at once. An ESP32's 128-byte FIFO
   * cannot keep a firmware that drains it busy for long, but fd 0 is a
   * 64 KB pipe: a host pipelining writes faster than the board handles them
   * would keep a drain going for good, starving timers and sockets until the
   * task watchdog resets the board.
   */
  #readThisTurn: boolean | undefined;

  constructor(options: SerialOptions) {
    const onReadable = options.onReadable;
    if (onReadable) {
      native("xs_vb_uart_on_readable").call(this, (count: number) => {
        this.#readThisTurn = false;
        try {
          onReadable.call(this, count);
        } finally {
          this.#readThisTurn = undefined;
        }
      });
    }
  }
  /** Bytes available now, or undefined when none (or, in a callback, after its one read). */
  read(): ArrayBuffer | undefined {
    if (this.#readThisTurn) return undefined;
    if (this.#readThisTurn === false) this.#readThisTurn = true;
    return this.#bytes();
  }
  // Only a bare `return native(...).call(this)` is bound at build time.
  #bytes(): ArrayBuffer | undefined {
    return native("xs_vb_uart_read").call(this) as ArrayBuffer | undefined;
  }
  write(data: ArrayBuffer | ArrayBufferView): void {
    native("xs_vb_uart_write").call(this, data);
  }
  close(): void {
    native("xs_vb_uart_on_readable").call(this, null);
  }
}
