// The device's configuration: Mongoose OS key names where Mongoose has
// them (device.id, rpc.auth_domain, rpc.auth_algo, rpc.acl), so that
// `mos config-get/config-set` read the same. What Mongoose keeps in files
// (rpc.auth_file, an htdigest file) is here in the tree, since the board
// has no file system: rpc.auth.users maps each user to its HA1.
//
// An HA1 (H(user:realm:password)) opens the door as well as the password
// does, so it is a secret: Config.Get never shows it. It is bound to the
// realm and the algorithm: changing rpc.auth_domain or rpc.auth_algo needs
// new HA1s (a change of algorithm without them is refused; a change of realm
// cannot be told from the HA1s).

import { parseAcl } from "rpc/acl";
import type { AuthSettings } from "rpc/auth";
import { algorithmOf, hexLength } from "rpc/digest-auth";
import type { Branch, ConfigTree, ConfigValue } from "sys/config-tree";

/** 1 to `max` characters, none of those that mean something else where the value ends up (a topic, a header, an ACL list). */
const printable = (max: number, forbidden: RegExp, what: string) => (v: string) =>
  v === "" || v.length > max ? `must be 1 to ${max} characters` : forbidden.test(v) ? `must not contain ${what}` : undefined;

export const CONFIG_SCHEMA: Branch = {
  type: "object",
  fields: {
    device: {
      type: "object",
      fields: {
        // "?" are replaced by the MAC's last hex digits at boot (an even count of them).
        id: { type: "string", default: "esp32_??????", check: printable(64, /[\s/#+"\\\u0000-\u001f]/, "spaces, /, #, +, quotes or backslashes") },
      },
    },
    rpc: {
      type: "object",
      fields: {
        auth_domain: { type: "string", default: "RPC", check: printable(64, /["\\\u0000-\u001f]/, "quotes, backslashes or control characters") },
        auth_algo: { type: "integer", default: 0, check: (v) => (v === 0 || v === 1 ? undefined : "must be 0 (MD5) or 1 (SHA-256)") },
        auth: {
          type: "object",
          fields: {
            users: {
              type: "map",
              checkKey: printable(32, /[\s.:,"\\]/, "spaces, dots, colons, commas, quotes or backslashes"),
              value: {
                type: "string",
                default: "",
                secret: true,
                check: (v) => (/^([0-9a-f]{32}|[0-9a-f]{64})$/.test(v) ? undefined : "must be an HA1: 32 (MD5) or 64 (SHA-256) lower-case hex digits"),
              },
            },
          },
        },
        // JSON text, as in Mongoose: [{"method": "OTA.*", "ch_type": "HTTP", "acl": "+admin"}, ...]; "" for none.
        acl: {
          type: "string",
          default: "",
          check: (v) => {
            if (v === "") return undefined;
            const parsed = parseAcl(v);
            return parsed.ok ? undefined : `is not a valid ACL: ${parsed.reason}`;
          },
        },
        uart: {
          type: "object",
          fields: {
            // Read at boot. Off, the UART carries the console only.
            enable: { type: "boolean", default: true },
          },
        },
      },
      check: (rpc) => {
        const algorithm = algorithmOf(rpc.auth_algo as number);
        const users = (rpc.auth as ConfigTree).users as ConfigTree;
        for (const user of Object.keys(users)) {
          if ((users[user] as string).length !== hexLength(algorithm)) {
            return `the HA1 of user ${user} is not a ${algorithm} digest (rpc.auth_algo ${String(rpc.auth_algo)}): set it again`;
          }
        }
        return undefined;
      },
    },
  },
};

/** What rpc/auth reads from the running configuration, for every call. */
export function authSettings(config: { get(key: string): ConfigValue | undefined }): AuthSettings {
  const rpc = config.get("rpc") as ConfigTree;
  return {
    realm: rpc.auth_domain as string,
    authAlgo: rpc.auth_algo as number,
    users: (rpc.auth as ConfigTree).users as Readonly<Record<string, string>>,
    acl: rpc.acl as string,
  };
}
