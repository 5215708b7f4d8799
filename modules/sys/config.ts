// The device configuration: defaults from the schema, the user's saved
// changes from NVS, and the running tree the services read. As in Mongoose
// OS, a change applies to the running tree at once (services that read the
// configuration per call, such as RPC auth and ACLs, see it immediately;
// those that read it at boot, such as device.id and rpc.uart.enable, at the
// next boot) and is saved only when asked. Levels: 0 is the defaults, 9 the
// user's saved configuration (1 to 8 are vendor levels this board has none
// of, so they read as the defaults).

import type { RecordStore } from "platform/ports";
import { eraseConfigRecord, readConfigRecord, writeConfigRecord } from "sys/config-record";
import {
  defaultsOf,
  diffFromDefaults,
  diffForKey,
  mergeDiff,
  valueAt,
  type Branch,
  type ConfigTree,
  type ConfigValue,
  type Merged,
} from "sys/config-tree";

export const USER_LEVEL = 9;

/** How a stored value reads, by dotted key (device.id's "??????" become MAC digits). */
export type Expanders = Readonly<Record<string, (stored: ConfigValue) => ConfigValue>>;

export class Config {
  readonly schema: Branch;
  readonly #store: RecordStore;
  readonly #expanders: Expanders;
  readonly #defaults: ConfigTree;
  #running: ConfigTree;

  constructor(schema: Branch, store: RecordStore, expanders: Expanders = {}) {
    this.schema = schema;
    this.#store = store;
    this.#expanders = expanders;
    this.#defaults = defaultsOf(schema);
    this.#running = this.#defaults;
  }

  /**
   * Read the saved configuration at boot. A configuration saved with
   * try_once is used instead, for this boot only: its record is erased
   * before it is used, so a crash or a reset goes back to the saved one.
   * Returns what was wrong, for the log.
   */
  load(): string[] {
    const problems: string[] = [];
    const trial = readConfigRecord(this.#store, "trial");
    if (trial) eraseConfigRecord(this.#store, "trial");
    const record = trial && "diff" in trial ? trial : readConfigRecord(this.#store, "saved");
    if (trial && "problem" in trial) problems.push(trial.problem);
    if (record && "problem" in record) problems.push(record.problem);
    this.#running = record && "diff" in record ? this.#layered(record.diff, problems) : this.#defaults;
    return problems;
  }

  /** The running value at a dotted key ("" for all), or undefined when there is no such key. */
  get(key = ""): ConfigValue | undefined {
    return this.#read(this.#running, key);
  }

  /** The value at a key as a level composes it: 0 to 8 the defaults, 9 the saved configuration. */
  getLevel(level: number, key = ""): ConfigValue | undefined {
    if (level < USER_LEVEL) return this.#read(this.#defaults, key);
    const record = readConfigRecord(this.#store, "saved");
    return this.#read(record && "diff" in record ? this.#layered(record.diff, []) : this.#defaults, key);
  }

  /** Whether a dotted key names something in the running tree. */
  has(key: string): boolean {
    return valueAt(this.#running, key) !== undefined;
  }

  /**
   * Merge a diff into the running configuration, and save the result when
   * asked (to the try-once record when `tryOnce`). All or nothing: an
   * invalid value changes nothing, and neither does a failed save, which
   * throws.
   */
  set(diff: unknown, save?: { tryOnce: boolean }): Merged {
    const merged = mergeDiff(this.schema, this.#running, diff);
    if (!merged.ok) return merged;
    if (save) this.#write(merged.tree, save.tryOnce);
    this.#running = merged.tree;
    return merged;
  }

  /** `{a: {b: value}}` for "a.b": Config.Set's key and value form. */
  static diffForKey(key: string, value: unknown): unknown {
    return diffForKey(key, value);
  }

  /** Save the running configuration; throws when it cannot be written. */
  save(tryOnce = false): void {
    this.#write(this.#running, tryOnce);
  }

  #write(tree: ConfigTree, tryOnce: boolean): void {
    writeConfigRecord(this.#store, tryOnce ? "trial" : "saved", diffFromDefaults(this.schema, tree));
  }

  /**
   * The defaults with a saved diff over them. Whole if it is valid; else key
   * by key, keeping every value that is valid on its own (a record written
   * by another firmware version), without the checks across keys: losing a
   * user because of one stray value would open the board.
   */
  #layered(diff: unknown, problems: string[]): ConfigTree {
    const whole = mergeDiff(this.schema, this.#defaults, diff);
    if (whole.ok) return whole.tree;
    problems.push(`saved config: ${whole.message}; keeping what is valid`);
    let tree = this.#defaults;
    for (const [key, value] of leaves(diff, "")) {
      const one = mergeDiff(this.schema, tree, diffForKey(key, value), false);
      if (one.ok) tree = one.tree;
      else problems.push(`saved config: ${one.message}: ignored`);
    }
    return tree;
  }

  #read(tree: ConfigTree, key: string): ConfigValue | undefined {
    const value = valueAt(tree, key);
    if (value === undefined) return undefined;
    let out = value;
    for (const at of Object.keys(this.#expanders)) {
      if (at === key) out = this.#expanders[at]!(out);
      else if (key === "" || at.startsWith(key + ".")) {
        const rel = key === "" ? at : at.slice(key.length + 1);
        const stored = valueAt(out as ConfigTree, rel);
        if (stored !== undefined) out = mergeRaw(out as ConfigTree, rel, this.#expanders[at]!(stored));
      }
    }
    return out;
  }
}

/** Every (dotted key, value) of a diff whose value is not an object. */
function leaves(diff: unknown, path: string): Array<[string, unknown]> {
  if (typeof diff !== "object" || diff === null || Array.isArray(diff)) return path === "" ? [] : [[path, diff]];
  const out: Array<[string, unknown]> = [];
  for (const key of Object.keys(diff)) out.push(...leaves((diff as Record<string, unknown>)[key], path === "" ? key : `${path}.${key}`));
  return out;
}

/** A copy of `tree` with the value at a dotted key replaced; no schema involved. */
function mergeRaw(tree: ConfigTree, key: string, value: ConfigValue): ConfigTree {
  const [head, ...rest] = key.split(".");
  const out = { ...tree };
  out[head!] = rest.length === 0 ? value : mergeRaw(tree[head!] as ConfigTree, rest.join("."), value);
  return out;
}
