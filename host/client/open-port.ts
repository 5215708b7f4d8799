// --port as mos accepts it: serial:///dev/ttyUSB0, a bare device path,
// http(s)://host/rpc, ws(s)://host/rpc or mqtt(s)://broker[:port]/<device id>.
// Anything else gets a message that says what works.

import type { Credentials } from "./credentials.ts";
import { HttpTransport } from "./http-transport.ts";
import { MqttTransport } from "./mqtt-transport.ts";
import { SerialTransport } from "./serial-transport.ts";
import { TransportError, type FrameTransport } from "./transport.ts";
import { WsTransport } from "./ws-transport.ts";

export interface PortOptions {
  baudRate?: number;
  /** For HTTP's own 401 challenges; RpcClient answers those in frames, on every transport. */
  credentials?: Credentials;
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
      return new HttpTransport(url, options.credentials);
    case "ws:":
    case "wss:":
      return connected(new WsTransport(url));
    case "mqtt:":
    case "mqtts:":
      return connected(new MqttTransport(url));
    default:
      throw new TransportError(
        `unsupported port ${port}: use serial:///dev/ttyUSB0, a device path, http://host/rpc, ws://host/rpc or mqtt://broker/<device id>`,
      );
  }
}

/** Connection-oriented transports connect at once, so a wrong port fails before any call. */
async function connected<T extends WsTransport | MqttTransport>(transport: T): Promise<T> {
  await transport.connect();
  return transport;
}
