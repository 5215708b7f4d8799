// Console log lines in ESP-IDF's format ("I (1234) ota: message"), so they
// read like the rest of the boot log and mos console shows them as log, not
// frames. The board wires the sink (trace, i.e. UART0) and the clock at boot;
// until then (and in host tests) lines go nowhere.

type Sink = (line: string) => void;

let sink: Sink = () => {};
let millis: () => number = () => 0;

export function configureLog(out: Sink, clockMs: () => number): void {
  sink = out;
  millis = clockMs;
}

/**
 * Control characters, shown escaped. Messages quote what clients sent (a
 * dst, a URL): raw, a newline there would start a line that mos and
 * xs-ota read as a reply frame, and an XOFF (0x13) would stop a host that
 * uses software flow control.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function escapeControl(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

function write(level: string, tag: string, message: string): void {
  sink(`${level} (${Math.floor(millis())}) ${tag}: ${message.replace(CONTROL, escapeControl)}\n`);
}

export const log = {
  info: (tag: string, message: string) => write("I", tag, message),
  warn: (tag: string, message: string) => write("W", tag, message),
  error: (tag: string, message: string) => write("E", tag, message),
};
