// The RPC channel on a UART: bytes from the serial port through UartFraming
// into the dispatcher, replies back in the peer's framing. The serial port is
// ECMA-419 `embedded:io/serial` on every platform, opened by board/uart.

import type { Dispatcher } from "rpc/dispatcher";
import { UartFraming, type UartEvent } from "rpc/uart-framing";
import { log } from "sys/log";

export interface SerialLike {
  read(): ArrayBuffer | undefined;
  write(data: ArrayBuffer): void;
}

/** Opens the port with `onReadable` as its callback (ECMA-419 style). */
export type OpenSerial = (onReadable: () => void) => SerialLike;

export function startUartChannel(rpc: Dispatcher, open: OpenSerial, uartNo = 0): void {
  const framing = new UartFraming();
  const channel = { type: "UART", info: `UART${uartNo}` };
  // Frames leave the framing as ASCII (see asciiJson): their UTF-8 is one byte per char.
  const send = (text: string) => serial.write(xsFromString(text));
  const onEvent = (event: UartEvent) => {
    if (event.kind === "frame") rpc.handleText(event.json, channel, (reply) => send(framing.encode(reply)));
    else if (event.kind === "reply") send(event.text);
    else log.warn("uart", event.reason);
  };
  let serial: SerialLike;
  try {
    serial = open(() => {
      let chunk: ArrayBuffer | undefined;
      while ((chunk = serial.read()) !== undefined) framing.receive(new Uint8Array(chunk), onEvent);
    });
  } catch (e) {
    // A UART the board cannot open (off, or owned by a debugger) leaves the
    // other channels working; an exception here would stop the boot.
    log.warn("uart", `RPC on UART${uartNo} is off: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * XS's ArrayBuffer.fromString, in one pass: a charCodeAt loop over a string
 * is quadratic on XS, which finds index i by walking its UTF-8 from the
 * start. (Reached through a cast: the host's type check, which sees this
 * module through the channels' types, knows Node's ArrayBuffer only.)
 */
function xsFromString(text: string): ArrayBuffer {
  return (ArrayBuffer as unknown as { fromString(text: string): ArrayBuffer }).fromString(text);
}
