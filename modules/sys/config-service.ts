// Config.Get, Config.Set and Config.Save (spec/mos-rpc.md §5, Mongoose's
// rpc-service-config), as mos uses them: `mos config-get KEY`, and
// `mos config-set k=v` which sends {config: <diff>, save: true, reboot: true}
// and skips Config.Save when the reply says saved.
//
// Secrets (the users' HA1s) read as "(hidden)": Config.Get is open to
// anybody the ACL lets call it, and an HA1 would let them authenticate.

import { RpcError, type Dispatcher } from "rpc/dispatcher";
import { argsObject, optionalBoolean, optionalInteger, optionalString } from "rpc/args";
import { Config, USER_LEVEL } from "sys/config";
import { maskSecrets, schemaAt } from "sys/config-tree";

export const HIDDEN = "(hidden)";

/** Between the reply and the restart, as Mongoose waits, so the reply gets out. */
export const CONFIG_REBOOT_DELAY_MS = 500;

export interface ConfigServiceOptions {
  readonly config: Config;
  /** Restart after a delay, with the reboot lockout (SysService.rebootAfter). */
  rebootAfter(delayMs: number): void;
}

export function installConfigService(rpc: Dispatcher, { config, rebootAfter }: ConfigServiceOptions): void {
  rpc.add("Config.Get", "{key: %Q, level: %d}", (raw) => {
    const args = argsObject(raw);
    const key = optionalString(args, "key") ?? "";
    const level = optionalInteger(args, "level");
    if (level !== undefined && (level < 0 || level > USER_LEVEL)) throw new RpcError(400, "failed to load config");
    const value = level === undefined ? config.get(key) : config.getLevel(level, key);
    if (value === undefined) throw new RpcError(404, "invalid config key");
    return maskSecrets(config.schema, key, value, HIDDEN);
  });

  rpc.add("Config.Set", "{config: %T, key: %Q, value: %T, level: %d, save: %B, try_once: %B, reboot: %B}", (raw) => {
    const args = argsObject(raw);
    const key = optionalString(args, "key");
    const level = optionalInteger(args, "level");
    const save = optionalBoolean(args, "save") ?? false;
    const tryOnce = optionalBoolean(args, "try_once") ?? false;
    const reboot = optionalBoolean(args, "reboot") ?? false;
    // Only the user's level can be written; 0 (the defaults) in particular is not.
    if (level !== undefined && level !== USER_LEVEL) throw new RpcError(400, "not allowed");
    let diff: unknown;
    if (key !== undefined) {
      if (args.value === undefined) throw new RpcError(400, "value is required");
      if (key === "" || !schemaAt(config.schema, key)) throw new RpcError(404, "invalid config key");
      diff = Config.diffForKey(key, args.value);
    } else {
      if (args.config === undefined || args.config === null) throw new RpcError(400, "config is required");
      diff = args.config;
    }
    const result = saving(() => config.set(diff, save ? { tryOnce } : undefined));
    if (!result.ok) throw new RpcError(400, `invalid config value: ${result.message}`);
    if (save && reboot) rebootAfter(CONFIG_REBOOT_DELAY_MS);
    return { saved: save };
  });

  rpc.add("Config.Save", "{try_once: %B, reboot: %B}", (raw) => {
    const args = argsObject(raw);
    const tryOnce = optionalBoolean(args, "try_once") ?? false;
    const reboot = optionalBoolean(args, "reboot") ?? false;
    saving(() => config.save(tryOnce));
    if (reboot) rebootAfter(CONFIG_REBOOT_DELAY_MS);
    return { saved: true };
  });
}

/** A failed write to NVS is Mongoose's -1 "error saving config: ...". */
function saving<T>(write: () => T): T {
  try {
    return write();
  } catch (e) {
    throw new RpcError(-1, `error saving config: ${e instanceof Error ? e.message : String(e)}`);
  }
}
