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

function write(level: string, tag: string, message: string): void {
  sink(`${level} (${Math.floor(millis())}) ${tag}: ${message}\n`);
}

export const log = {
  info: (tag: string, message: string) => write("I", tag, message),
  warn: (tag: string, message: string) => write("W", tag, message),
  error: (tag: string, message: string) => write("E", tag, message),
};
