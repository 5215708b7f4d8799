// Reading handler arguments with mgrpc's error conventions: a call with a
// wrongly typed argument is refused with 400 and a message naming it.

import { RpcError } from "rpc/dispatcher";

export type Args = Readonly<Record<string, unknown>>;

/** The args object; absent args read as {}, anything but an object is a 400. */
export function argsObject(args: unknown): Args {
  if (args === undefined || args === null) return {};
  if (typeof args !== "object" || Array.isArray(args)) throw new RpcError(400, "args must be an object");
  return args as Args;
}

export function optionalString(args: Args, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new RpcError(400, `${name} must be a string`);
  return v;
}

export function optionalBoolean(args: Args, name: string): boolean | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new RpcError(400, `${name} must be a boolean`);
  return v;
}

/** An integer, given as a JSON number or a numeric string ("300"), as Mongoose clients do both. */
export function optionalInteger(args: Args, name: string): number | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw new RpcError(400, `${name} must be an integer`);
  return n;
}
