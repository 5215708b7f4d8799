// RPC credentials on the client side: `--rpc-creds user:pass` or `@file` as
// mos takes them, and the fresh random cnonce of every answer.

import { randomInt } from "node:crypto";
import fs from "node:fs";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * `user:pass`, or `@FILE` naming a file that holds `user:pass` (trailing
 * newline allowed). The password is everything after the first colon.
 */
export function parseCredentials(spec: string, readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8")): Credentials {
  let text = spec;
  if (spec.startsWith("@")) {
    try {
      text = readFile(spec.slice(1)).replace(/\r?\n$/, "");
    } catch (e) {
      throw new Error(`cannot read credentials from ${spec.slice(1)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const colon = text.indexOf(":");
  if (colon <= 0) throw new Error(`credentials must be user:password${spec.startsWith("@") ? ` (in ${spec.slice(1)})` : ""}`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** A client nonce as mos makes one: a random integer below 2^32 - 1. */
export function randomCnonce(): number {
  return randomInt(0, 0xffffffff);
}
