// HTTP digest authentication as mgrpc uses it (spec/mos-rpc.md §2.3, §2.6),
// shared by the device (verifying) and the host tools (answering a
// challenge), so both sides hash exactly the same strings:
//
//   HA1      = H(username ":" realm ":" password)        (what the device stores)
//   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri))
//
// Two carriers. In a frame (any channel): the device's 401 error message is
// a JSON challenge with the nonce as a decimal Unix time, and the client
// resends the call with an `auth` object hashed with method "dummy_method",
// uri "dummy_uri", nc "1", qop "auth" (mos common/mgrpc/mgrpc.go). Over HTTP:
// `WWW-Authenticate: Digest ...` with the nonce in hex, answered by an
// `Authorization: Digest ...` header over the real method and path
// (mos common/mgrpc/codec/http_out.go).

import { md5Hex, sha256Hex } from "rpc/digest";

export type DigestAlgorithm = "MD5" | "SHA-256";

/** rpc.auth_algo: 0 is MD5, 1 is SHA-256 (Mongoose's MG_AUTH_ALGO_*). */
export function algorithmOf(authAlgo: number): DigestAlgorithm {
  return authAlgo === 1 ? "SHA-256" : "MD5";
}

export function hashHex(algorithm: DigestAlgorithm, text: string): string {
  return algorithm === "SHA-256" ? sha256Hex(text) : md5Hex(text);
}

/** Length of a hex digest: how an HA1 shows which algorithm made it. */
export function hexLength(algorithm: DigestAlgorithm): number {
  return algorithm === "SHA-256" ? 64 : 32;
}

export function ha1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hashHex(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestInput {
  readonly algorithm: DigestAlgorithm;
  readonly ha1: string;
  /** Each as the text the client hashed. */
  readonly nonce: string;
  readonly nc: string;
  readonly cnonce: string;
  readonly qop: string;
  readonly method: string;
  readonly uri: string;
}

export function digestResponse(d: DigestInput): string {
  const ha2 = hashHex(d.algorithm, `${d.method}:${d.uri}`);
  return hashHex(d.algorithm, `${d.ha1}:${d.nonce}:${d.nc}:${d.cnonce}:${d.qop}:${ha2}`);
}

/**
 * Equality of two secrets' hex digests in time that depends only on their
 * lengths, never on where they differ, and over the whole of both: a prefix
 * or an empty string is never equal (ESPHome's CVE-2025-57808 compared only
 * as many characters as the client sent).
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (i < a.length ? a.charCodeAt(i) : 0) ^ (i < b.length ? b.charCodeAt(i) : 0);
  return diff === 0 && n > 0;
}

// ---- in frames ---------------------------------------------------------------

export const FRAME_METHOD = "dummy_method";
export const FRAME_URI = "dummy_uri";
export const FRAME_NC = "1";
export const QOP = "auth";

/** What a 401 error message carries on every channel but HTTP. */
export interface FrameChallenge {
  readonly auth_type: "digest";
  /** Unix time, in seconds, by the device's clock. */
  readonly nonce: number;
  readonly nc: 1;
  readonly realm: string;
  readonly algorithm: DigestAlgorithm;
}

/** The 401 message text: JSON in Mongoose's key order. */
export function frameChallengeMessage(realm: string, nonce: number, algorithm: DigestAlgorithm): string {
  const challenge: FrameChallenge = { auth_type: "digest", nonce, nc: 1, realm, algorithm };
  return JSON.stringify(challenge);
}

/** The challenge in a 401 error message, or undefined when it is not one. */
export function parseFrameChallenge(message: string): FrameChallenge | undefined {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const c = v as Record<string, unknown>;
  if (c.auth_type !== "digest" || !Number.isSafeInteger(c.nonce) || typeof c.realm !== "string") return undefined;
  // mos ≤ 2.19 sent no algorithm and always meant MD5.
  const algorithm = c.algorithm === undefined ? "MD5" : c.algorithm;
  if (algorithm !== "MD5" && algorithm !== "SHA-256") return undefined;
  return { auth_type: "digest", nonce: c.nonce as number, nc: 1, realm: c.realm, algorithm };
}

/** The `auth` object of a frame, as mos sends it: nonce and cnonce are numbers. */
export interface FrameAuth {
  readonly realm: string;
  readonly username: string;
  readonly nonce: number;
  readonly cnonce: number;
  readonly algorithm: DigestAlgorithm;
  readonly response: string;
}

/** Answer a frame challenge (client side); `cnonce` is a random integer below 2^32. */
export function answerFrameChallenge(challenge: FrameChallenge, username: string, password: string, cnonce: number): FrameAuth {
  const { algorithm, realm, nonce } = challenge;
  const response = digestResponse({
    algorithm,
    ha1: ha1(algorithm, username, realm, password),
    nonce: String(nonce),
    nc: FRAME_NC,
    cnonce: String(cnonce),
    qop: QOP,
    method: FRAME_METHOD,
    uri: FRAME_URI,
  });
  return { realm, username, nonce, cnonce, algorithm, response };
}

// ---- over HTTP ---------------------------------------------------------------

/** `WWW-Authenticate` of an HTTP 401, as Mongoose's HTTP channel sends it. */
export function wwwAuthenticate(realm: string, nonce: number, algorithm: DigestAlgorithm): string {
  return `Digest qop="auth", realm=${quote(realm)}, nonce="${nonce.toString(16)}", algorithm=${algorithm}`;
}

/** The parameters of RFC 7616's challenges and credentials. */
const DIGEST_PARAMETERS = ["realm", "domain", "nonce", "opaque", "stale", "algorithm", "qop", "charset", "userhash", "username", "username*", "uri", "response", "cnonce", "nc"];

/**
 * The parameters of a `Digest` challenge or credentials header, names in
 * lower case; undefined when the scheme is not Digest. Values may be quoted
 * (with backslash escapes) or bare tokens.
 */
export function parseDigestHeader(value: string): Record<string, string> | undefined {
  const m = /^\s*digest\s+/i.exec(value);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/g;
  const rest = value.slice(m[0].length);
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null) {
    const name = p[1]!.toLowerCase();
    // Names outside RFC 7616's are ignored: they would become property names (sys/names).
    // A repeated parameter is ambiguous: the first one counts, as in Mongoose's parser.
    if (DIGEST_PARAMETERS.indexOf(name) >= 0 && !(name in params)) params[name] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return params;
}

/**
 * `Authorization` answering an HTTP challenge (client side), in mos's form:
 * nc 00000001, a decimal cnonce, the request's method and path as the uri.
 */
export function authorizationHeader(
  challenge: Readonly<Record<string, string>>,
  request: { method: string; uri: string },
  username: string,
  password: string,
  cnonce: number,
): string {
  const algorithm: DigestAlgorithm = challenge.algorithm === "SHA-256" ? "SHA-256" : "MD5";
  const realm = challenge.realm ?? "";
  const nonce = challenge.nonce ?? "";
  const qop = challenge.qop ?? QOP;
  const nc = "00000001";
  const response = digestResponse({
    algorithm,
    ha1: ha1(algorithm, username, realm, password),
    nonce,
    nc,
    cnonce: String(cnonce),
    qop,
    method: request.method,
    uri: request.uri,
  });
  let header =
    `Digest username=${quote(username)}, realm=${quote(realm)}, uri=${quote(request.uri)}, algorithm=${algorithm}, ` +
    `nonce=${quote(nonce)}, nc=${nc}, cnonce="${cnonce}", qop=${qop}, response="${response}"`;
  if (challenge.opaque !== undefined) header += `, opaque=${quote(challenge.opaque)}`;
  return header;
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, "\\$&")}"`;
}
