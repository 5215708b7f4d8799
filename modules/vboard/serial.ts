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
  constructor(options: SerialOptions) {
    const onReadable = options.onReadable;
    if (onReadable) native("xs_vb_uart_on_readable").call(this, (count: number) => onReadable.call(this, count));
  }
  /** Bytes available now, or undefined when none. */
  read(): ArrayBuffer | undefined {
    return native("xs_vb_uart_read").call(this) as ArrayBuffer | undefined;
  }
  write(data: ArrayBuffer | ArrayBufferView): void {
    native("xs_vb_uart_write").call(this, data);
  }
  close(): void {
    native("xs_vb_uart_on_readable").call(this, null);
  }
}
