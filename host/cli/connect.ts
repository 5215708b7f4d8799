// What every verb that talks to a device shares: the global options and a
// client on the port they name, closed when the verb is done.

import { parseCredentials, type Credentials } from "../client/credentials.ts";
import { openPort } from "../client/open-port.ts";
import { RpcClient } from "../client/rpc-client.ts";

/** The command line was wrong in a way only the action can see: exit 2. */
export class UsageError extends Error {}

export interface GlobalOptions {
  port?: string;
  timeout: number;
  baudRate: number;
  verbose?: boolean;
  /** --rpc-creds, already read. */
  rpcCreds?: Credentials;
}

export async function withClient<T>(options: GlobalOptions, use: (client: RpcClient) => Promise<T>): Promise<T> {
  const port = options.port ?? process.env.XS_OTA_PORT;
  if (!port) throw new UsageError("no port: pass --port (serial:///dev/ttyUSB0, /dev/ttyUSB0, http://host/rpc, ws://host/rpc, mqtt://broker/<device id>) or set XS_OTA_PORT");
  const credentials = options.rpcCreds ?? envCredentials();
  const transport = await openPort(port, { baudRate: options.baudRate, credentials });
  if (options.verbose) transport.onLog = (line) => process.stderr.write(`${line}\n`);
  const client = new RpcClient(transport, { timeoutMs: options.timeout, credentials });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** XS_OTA_RPC_CREDS, in --rpc-creds form: keeps a password off command lines (and out of `ps`). */
function envCredentials(): Credentials | undefined {
  const spec = process.env.XS_OTA_RPC_CREDS;
  if (!spec) return undefined;
  try {
    return parseCredentials(spec);
  } catch (e) {
    throw new UsageError(`XS_OTA_RPC_CREDS: ${(e as Error).message}`);
  }
}
