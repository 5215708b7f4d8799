// RPC access control lists (spec/mos-rpc.md §2.6, rpc-common's
// mgos_rpc_check_authz): a JSON array of {method, ch_type, acl}; the first
// entry whose method glob list and channel type both match decides, and no
// match denies. "*" or "+*" allow anybody, "-*" nobody, anything else is a
// list of user globs ("+admin,-guest*") that needs an authenticated caller.

import { matchesGlob, matchesGlobList } from "rpc/glob";
import { readJson } from "sys/json-limits";

export type AclRule =
  | { readonly kind: "allow" }
  | { readonly kind: "deny" }
  /** Authenticated users only; the first matching entry says yes or no, none says no. */
  | { readonly kind: "users"; readonly entries: ReadonlyArray<{ readonly allow: boolean; readonly pattern: string }> };

export interface AclEntry {
  /** Glob list of methods; absent matches every method. */
  readonly methods?: string;
  /** Channel type ("UART", "HTTP", "WS_in", "MQTT"); absent matches every channel. */
  readonly chType?: string;
  readonly rule: AclRule;
}

export type Acl = readonly AclEntry[];

export type ParsedAcl = { readonly ok: true; readonly acl: Acl } | { readonly ok: false; readonly reason: string };

/** Parse the text of rpc.acl. Entries need `acl` and at least one of `method`, `ch_type`, all strings. */
export function parseAcl(text: string): ParsedAcl {
  const read = readJson(text);
  if (!read.ok) return { ok: false, reason: read.overLimit ? `JSON ${read.reason}` : "not valid JSON" };
  const root = read.value;
  if (!Array.isArray(root)) return { ok: false, reason: "must be a JSON array" };
  const acl: AclEntry[] = [];
  for (let i = 0; i < root.length; i++) {
    const e = root[i] as Record<string, unknown>;
    if (typeof e !== "object" || e === null || Array.isArray(e)) return { ok: false, reason: `entry ${i} is not an object` };
    const { method, ch_type: chType, acl: rule } = e;
    if (typeof rule !== "string" || rule === "") return { ok: false, reason: `entry ${i} needs "acl", a non-empty string` };
    if (method !== undefined && typeof method !== "string") return { ok: false, reason: `entry ${i}: "method" must be a string` };
    if (chType !== undefined && typeof chType !== "string") return { ok: false, reason: `entry ${i}: "ch_type" must be a string` };
    if (!method && !chType) return { ok: false, reason: `entry ${i} needs "method" or "ch_type"` };
    acl.push({ methods: method || undefined, chType: chType || undefined, rule: parseRule(rule) });
  }
  return { ok: true, acl };
}

function parseRule(text: string): AclRule {
  const t = text.trim();
  if (t === "*" || t === "+*") return { kind: "allow" };
  if (t === "-*") return { kind: "deny" };
  const entries = t
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => (s[0] === "-" || s[0] === "+" ? { allow: s[0] === "+", pattern: s.slice(1) } : { allow: true, pattern: s }));
  return { kind: "users", entries };
}

/** The rule of the first entry matching the call, or undefined: no entry matches, so the call is denied. */
export function lookupAcl(acl: Acl, method: string, chType: string): AclRule | undefined {
  for (const entry of acl) {
    if (entry.chType !== undefined && entry.chType !== chType) continue;
    if (entry.methods !== undefined && !matchesGlobList(entry.methods, method)) continue;
    return entry.rule;
  }
  return undefined;
}

/** Whether an authenticated user passes a rule (mgos_conf_check_access_n). */
export function userAllowed(rule: AclRule, username: string): boolean {
  if (rule.kind !== "users") return rule.kind === "allow";
  for (const entry of rule.entries) {
    if (matchesGlob(entry.pattern, username)) return entry.allow;
  }
  return false;
}

/** What changes the device or its firmware: closed to anonymous network callers once credentials exist. */
export const PROTECTED_METHODS = "OTA.*,Sys.Reboot,Config.Set,Config.Save";

/**
 * The policy of a board with credentials and no rpc.acl: the UART (physical
 * access) stays open; elsewhere, PROTECTED_METHODS need any configured user;
 * the rest is open, as on a board without credentials.
 */
export const DEFAULT_ACL: Acl = [
  { chType: "UART", rule: { kind: "allow" } },
  { methods: PROTECTED_METHODS, rule: { kind: "users", entries: [{ allow: true, pattern: "*" }] } },
  { methods: "*", rule: { kind: "allow" } },
];
