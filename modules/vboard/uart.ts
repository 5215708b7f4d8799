// "board/uart" on the virtual board: UART0 is the board process's stdin and
// stdout (vboard/serial), which the supervisor joins to a pseudo-terminal.

import Serial from "embedded:io/serial";
import type { RpcUartPort } from "platform/ports";

export const rpcUart: RpcUartPort = {
  uartNo: 0,
  open: (onReadable) => new Serial({ baud: 115200, format: "buffer", onReadable }),
};
