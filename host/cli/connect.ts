// What every verb that talks to a device shares: the global options and a
// client on the port they name, closed when the verb is done.

import { openPort } from "../client/open-port.ts";
import { RpcClient } from "../client/rpc-client.ts";

/** The command line was wrong in a way only the action can see: exit 2. */
export class UsageError extends Error {}

export interface GlobalOptions {
  port?: string;
  timeout: number;
  baudRate: number;
  verbose?: boolean;
}

export async function withClient<T>(options: GlobalOptions, use: (client: RpcClient) => Promise<T>): Promise<T> {
  const port = options.port ?? process.env.XS_OTA_PORT;
  if (!port) throw new UsageError("no port: pass --port (serial:///dev/ttyUSB0, /dev/ttyUSB0, http://host/rpc) or set XS_OTA_PORT");
  const transport = await openPort(port, { baudRate: options.baudRate });
  if (options.verbose) transport.onLog = (line) => process.stderr.write(`${line}\n`);
  const client = new RpcClient(transport, { timeoutMs: options.timeout });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
