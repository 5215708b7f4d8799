// Who is calling: the digest credentials of a call, checked against the
// configured users. Two carriers (spec/mos-rpc.md §2.6): the frame's `auth`
// object on any channel, and the `Authorization: Digest` header of the HTTP
// request that carried the call (an HTTP call, or a WebSocket upgrade).
//
// A wrong password, an unknown user, a stale nonce and a replay all read
// "unauthenticated" (the caller gets a fresh challenge); only a malformed
// `auth` object is a bad request. Unknown users cost the same digest work
// as known ones, and digests are compared in constant time.

import {
  FRAME_METHOD,
  FRAME_NC,
  FRAME_URI,
  QOP,
  digestResponse,
  hexLength,
  parseDigestHeader,
  timingSafeEqual,
  type DigestAlgorithm,
} from "rpc/digest-auth";
import type { NonceGuard } from "rpc/nonce-guard";

export interface AuthConfig {
  /** rpc.auth_domain. */
  readonly realm: string;
  readonly algorithm: DigestAlgorithm;
  /** HA1 (hex, of `algorithm`) by user name. */
  readonly users: ReadonlyMap<string, string>;
}

export type Authn = { readonly user: string } | "unauthenticated" | "bad-request";

/** The frame's `auth` object: {realm, username, nonce, cnonce, response, algorithm?}. */
export function checkFrameAuth(auth: unknown, config: AuthConfig, guard: NonceGuard, now: number): Authn {
  if (typeof auth !== "object" || auth === null || Array.isArray(auth)) return "bad-request";
  const a = auth as Record<string, unknown>;
  const nonce = decimalText(a.nonce);
  const cnonce = cnonceText(a.cnonce);
  const { realm, username, response } = a;
  if (typeof realm !== "string" || typeof username !== "string" || typeof response !== "string") return "bad-request";
  if (nonce === undefined || cnonce === undefined) return "bad-request";
  if (a.algorithm !== undefined && a.algorithm !== config.algorithm) return "bad-request";
  if (realm !== config.realm) return "bad-request";
  return check(config, guard, now, {
    username,
    response,
    nonce,
    nonceValue: Number(nonce),
    nc: FRAME_NC,
    cnonce,
    method: FRAME_METHOD,
    uri: FRAME_URI,
  });
}

/**
 * An `Authorization: Digest ...` header of an HTTP request with this method
 * and request target. A channel that kept the headers of its upgrade request
 * but not its request line is taken as a GET of the uri the header names.
 */
export function checkAuthorizationHeader(
  header: string,
  request: { readonly method: string; readonly uri: string } | undefined,
  config: AuthConfig,
  guard: NonceGuard,
  now: number,
): Authn {
  const p = parseDigestHeader(header);
  if (!p) return "unauthenticated";
  const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
  if (username === undefined || response === undefined || cnonce === undefined || cnonce === "") return "unauthenticated";
  if (realm !== config.realm || qop !== QOP || (p.algorithm !== undefined && p.algorithm !== config.algorithm)) return "unauthenticated";
  // The digest covers the uri the client names; it must be the one it asked for.
  if (uri === undefined || (request !== undefined && uri !== request.uri)) return "unauthenticated";
  if (nonce === undefined || !/^[0-9a-fA-F]{1,13}$/.test(nonce) || nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc)) {
    return "unauthenticated";
  }
  return check(config, guard, now, {
    username,
    response,
    nonce,
    nonceValue: parseInt(nonce, 16),
    nc,
    cnonce,
    method: request?.method ?? "GET",
    uri,
  });
}

interface Presented {
  readonly username: string;
  readonly response: string;
  /** As the client hashed it. */
  readonly nonce: string;
  /** The Unix time it stands for. */
  readonly nonceValue: number;
  readonly nc: string;
  readonly cnonce: string;
  readonly method: string;
  readonly uri: string;
}

function check(config: AuthConfig, guard: NonceGuard, now: number, c: Presented): Authn {
  if (!guard.isFresh(c.nonceValue, now)) return "unauthenticated";
  const known = config.users.get(c.username);
  // An unknown user is checked against a stand-in, so timing tells nobody which users exist.
  const ha1 = known ?? "0".repeat(hexLength(config.algorithm));
  const expected = digestResponse({ algorithm: config.algorithm, ha1, nonce: c.nonce, nc: c.nc, cnonce: c.cnonce, qop: QOP, method: c.method, uri: c.uri });
  const match = timingSafeEqual(expected, c.response.toLowerCase());
  if (!match || known === undefined) return "unauthenticated";
  // Remembered only once it verified: nobody without a password can fill the cache.
  if (!guard.claim(c.nonceValue, `${c.username}\n${c.cnonce}\n${c.nc}`, now)) return "unauthenticated";
  return { user: c.username };
}

/** A nonce as mos sends it (a number) or as a string of digits: the decimal text the client hashed. */
function decimalText(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  if (typeof v === "string") return /^\d{1,15}$/.test(v) ? v : undefined;
  return undefined;
}

/** A cnonce: mos sends an integer; other clients may send a string, hashed as is. */
function cnonceText(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  if (typeof v === "string") return v !== "" && v.length <= 128 ? v : undefined;
  return undefined;
}
