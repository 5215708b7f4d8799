// The shape of a configuration and the operations on trees of that shape:
// defaults, lookup by dotted key, merging a diff (validated leaf by leaf),
// the diff of a tree against the defaults, and hiding secrets. A schema is
// data, so every service can describe its part of the tree in a few lines.
//
// Diffs merge like a JSON merge patch (RFC 7396): objects merge, values
// replace, and null takes a leaf back to its default or removes a map entry.

import { otherMembers } from "sys/json-limits";
import { hasOwnName } from "sys/names";

export type ConfigValue = string | number | boolean | ConfigTree;
export interface ConfigTree {
  [key: string]: ConfigValue;
}

/** A check returns what is wrong with a value, or undefined when it is fine. */
export type Check<T> = (value: T) => string | undefined;

export type Leaf =
  | { readonly type: "string"; readonly default: string; readonly check?: Check<string>; readonly secret?: boolean }
  | { readonly type: "integer"; readonly default: number; readonly check?: Check<number> }
  | { readonly type: "boolean"; readonly default: boolean };

/** Fixed keys, each with its own schema. */
export interface Branch {
  readonly type: "object";
  readonly fields: Readonly<Record<string, SchemaNode>>;
  /** What must hold between the fields, checked after every change below this branch. */
  readonly check?: Check<ConfigTree>;
}

/** Keys chosen by the user (user names), all values of one kind; empty by default. */
export interface MapNode {
  readonly type: "map";
  readonly value: Leaf;
  readonly checkKey?: Check<string>;
}

export type SchemaNode = Leaf | Branch | MapNode;

export function defaultsOf(node: Branch): ConfigTree;
export function defaultsOf(node: SchemaNode): ConfigValue;
export function defaultsOf(node: SchemaNode): ConfigValue {
  switch (node.type) {
    case "object": {
      const tree: ConfigTree = {};
      for (const key of Object.keys(node.fields)) tree[key] = defaultsOf(node.fields[key]!);
      return tree;
    }
    case "map":
      return {};
    default:
      return node.default;
  }
}

/** The schema node a dotted key names ("" is the root); map entries name the map's value schema. */
export function schemaAt(root: Branch, key: string): SchemaNode | undefined {
  let node: SchemaNode = root;
  for (const part of key === "" ? [] : key.split(".")) {
    if (node.type === "object") {
      // `part` may come from a client (Config.Get/Set's key): it is compared, not looked up.
      const next: SchemaNode | undefined = hasOwnName(node.fields, part) ? node.fields[part] : undefined;
      if (!next) return undefined;
      node = next;
    } else if (node.type === "map") {
      node = node.value;
    } else {
      return undefined;
    }
  }
  return node;
}

/** The value at a dotted key, or undefined when the tree has none there. */
export function valueAt(tree: ConfigTree, key: string): ConfigValue | undefined {
  let v: ConfigValue | undefined = tree;
  for (const part of key === "" ? [] : key.split(".")) {
    if (typeof v !== "object" || !hasOwnName(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

/** `{"a": {"b": value}}` for key "a.b": the diff that sets one key. */
export function diffForKey(key: string, value: unknown): unknown {
  return key
    .split(".")
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value);
}

export type Merged = { readonly ok: true; readonly tree: ConfigTree } | { readonly ok: false; readonly message: string };

/**
 * `base` with `diff` merged in, every value checked, and the checks of the
 * branches it changes unless `crossChecks` is false (a saved config read
 * key by key); `base` itself is not changed.
 */
export function mergeDiff(schema: Branch, base: ConfigTree, diff: unknown, crossChecks = true): Merged {
  if (!isObject(diff)) return { ok: false, message: "config must be an object" };
  try {
    return { ok: true, tree: mergeBranch(schema, base, diff, "", crossChecks) };
  } catch (e) {
    if (e instanceof InvalidValue) return { ok: false, message: e.message };
    throw e;
  }
}

class InvalidValue extends Error {}

function mergeBranch(node: Branch | MapNode, base: ConfigTree, diff: Record<string, unknown>, path: string, crossChecks: boolean): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [key, value] of members(diff)) {
    const where = path === "" ? key : `${path}.${key}`;
    // Assigning it would set the object's prototype instead of adding an entry.
    if (key === "__proto__") throw new InvalidValue(`${where}: invalid key`);
    if (node.type === "map") {
      // The one place a name from outside becomes a property name on
      // purpose (sys/names): a map entry, set by a call that was allowed to.
      const bad = key === "" ? "must not be empty" : node.checkKey?.(key);
      if (bad) throw new InvalidValue(`${where}: key ${bad}`);
      if (value === null) delete out[key];
      else out[key] = checkLeaf(node.value, value, where);
      continue;
    }
    const child = hasOwnName(node.fields, key) ? node.fields[key] : undefined;
    if (!child) throw new InvalidValue(`unknown key ${where}`);
    if (value === null) out[key] = defaultsOf(child);
    else if (child.type === "object" || child.type === "map") {
      if (!isObject(value)) throw new InvalidValue(`${where} must be an object`);
      out[key] = mergeBranch(child, (base[key] as ConfigTree | undefined) ?? (defaultsOf(child) as ConfigTree), value, where, crossChecks);
    } else out[key] = checkLeaf(child, value, where);
  }
  if (crossChecks && node.type === "object" && node.check) {
    const bad = node.check(out);
    if (bad) throw new InvalidValue(path === "" ? bad : `${path}: ${bad}`);
  }
  return out;
}

/** A diff's members: its properties, and those readJson set aside (names the engine did not hold). */
function members(diff: Record<string, unknown>): Array<[string, unknown]> {
  const all: Array<[string, unknown]> = Object.keys(diff).map((key) => [key, diff[key]]);
  otherMembers(diff)?.forEach((value, key) => all.push([key, value]));
  return all;
}

function checkLeaf(leaf: Leaf, value: unknown, where: string): ConfigValue {
  switch (leaf.type) {
    case "string":
      if (typeof value !== "string") throw new InvalidValue(`${where} must be a string`);
      return checked(leaf.check, value, where);
    case "integer":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new InvalidValue(`${where} must be an integer`);
      return checked(leaf.check, value, where);
    case "boolean":
      if (typeof value !== "boolean") throw new InvalidValue(`${where} must be a boolean`);
      return value;
  }
}

function checked<T extends ConfigValue>(check: Check<T> | undefined, value: T, where: string): T {
  const bad = check?.(value);
  if (bad) throw new InvalidValue(`${where} ${bad}`);
  return value;
}

/** What `tree` sets differently from the defaults: the smallest diff that rebuilds it. */
export function diffFromDefaults(schema: SchemaNode, tree: ConfigValue): unknown {
  if (schema.type === "map") return Object.keys(tree as ConfigTree).length > 0 ? tree : undefined;
  if (schema.type !== "object") return tree === schema.default ? undefined : tree;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(schema.fields)) {
    const sub = (tree as ConfigTree)[key];
    const d = sub === undefined ? undefined : diffFromDefaults(schema.fields[key]!, sub);
    if (d !== undefined) (out ??= {})[key] = d;
  }
  return out;
}

/** A copy of `value` (at dotted `key`) in which secret leaves read `mask`. */
export function maskSecrets(schema: Branch, key: string, value: ConfigValue, mask: string): ConfigValue {
  const node = schemaAt(schema, key);
  if (!node) return value;
  if (node.type === "string") return node.secret && value !== "" ? mask : value;
  if (node.type !== "object" && node.type !== "map") return value;
  const out: ConfigTree = {};
  for (const k of Object.keys(value as ConfigTree)) out[k] = maskSecrets(schema, key === "" ? k : `${key}.${k}`, (value as ConfigTree)[k]!, mask);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
