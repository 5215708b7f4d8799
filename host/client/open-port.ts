// --port as mos accepts it: serial:///dev/ttyUSB0, a bare device path, or
// http(s)://host/rpc. Anything else gets a message that says what works.

import { HttpTransport } from "./http-transport.ts";
import { SerialTransport } from "./serial-transport.ts";
import { TransportError, type FrameTransport } from "./transport.ts";

export interface PortOptions {
  baudRate?: number;
}

export async function openPort(port: string, options: PortOptions = {}): Promise<FrameTransport> {
  if (!port.includes("://")) return SerialTransport.open({ path: port, baudRate: options.baudRate });
  let url: URL;
  try {
    url = new URL(port);
  } catch {
    throw new TransportError(`invalid port URL: ${port}`);
  }
  switch (url.protocol) {
    case "serial:":
      if (!url.pathname) throw new TransportError(`no device path in ${port}`);
      return SerialTransport.open({ path: decodeURIComponent(url.pathname), baudRate: options.baudRate });
    case "http:":
    case "https:":
      return new HttpTransport(url);
    default:
      throw new TransportError(`unsupported port ${port}: use serial:///dev/ttyUSB0, a device path, or http://host/rpc`);
  }
}
