// RPC.List, RPC.Describe and RPC.Ping: what every mos-compatible device
// answers (spec/mos-rpc.md §5), built on the dispatcher's own registry.

import { RpcError, type Dispatcher } from "rpc/dispatcher";
import { argsObject, optionalString } from "rpc/args";

export function installRpcService(rpc: Dispatcher): void {
  rpc.add("RPC.List", "", () => rpc.list());
  rpc.add("RPC.Describe", "{name: %Q}", (args) => {
    const name = optionalString(argsObject(args), "name");
    if (!name) throw new RpcError(400, "name is required");
    const description = rpc.describe(name);
    if (!description) throw new RpcError(404, "name not found");
    return description;
  });
  rpc.add("RPC.Ping", "", (_args, ctx) => ({ channel_info: ctx.channel.info }));
}
