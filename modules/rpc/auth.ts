// Authorization of every call (spec/mos-rpc.md §2.6, rpc-common's
// mgos_rpc_req_prehandler), as the prehandler after the reboot lockout:
//
//   1. the ACL entry for the method and the channel type: none, or "-*",
//      is 403 "unauthorized"; "*" lets the call through;
//   2. a user list needs a user: the frame's `auth` object (malformed: 400
//      "bad request"), else the channel's credentials (the Authorization
//      header of the HTTP request that carried the call);
//   3. no user: 401 with a fresh challenge (the HTTP channel turns it into
//      an HTTP 401 with WWW-Authenticate);
//   4. a user the entry does not list: 403 "unauthorized".
//
// The ACL is rpc.acl when set. Without it, a board with users gets
// DEFAULT_ACL (the UART open; OTA.*, Sys.Reboot, Config.Set and Config.Save
// closed to anonymous callers elsewhere) and a board without users is open,
// as Mongoose OS is out of the box. A malformed rpc.acl (Config.Set refuses
// one, so only a damaged record could hold it) refuses every call with 500
// rather than Mongoose's silence: fail closed, and say why.
//
// Settings are read per call, so a Config.Set applies to the next call.

import { DEFAULT_ACL, lookupAcl, parseAcl, userAllowed, type Acl, type ParsedAcl } from "rpc/acl";
import { checkAuthorizationHeader, checkFrameAuth, type AuthConfig, type Authn } from "rpc/authn";
import { algorithmOf, frameChallengeMessage } from "rpc/digest-auth";
import type { CallContext, ChannelInfo, Dispatcher } from "rpc/dispatcher";
import type { RpcErrorBody } from "rpc/frame";
import { NonceGuard } from "rpc/nonce-guard";
import { log } from "sys/log";

export interface AuthSettings {
  /** rpc.auth_domain: the digest realm. */
  readonly realm: string;
  /** rpc.auth_algo: 0 MD5, 1 SHA-256. */
  readonly authAlgo: number;
  /** HA1 by user name. */
  readonly users: Readonly<Record<string, string>>;
  /** rpc.acl: JSON text, "" for none. */
  readonly acl: string;
}

export interface AuthOptions {
  settings(): AuthSettings;
  /** Unix time in seconds by the device's clock: nonces are made from it and checked against it. */
  nowSeconds(): number;
}

const UNAUTHORIZED: RpcErrorBody = { code: 403, message: "unauthorized" };

/**
 * The most body an HTTP request may carry before its Authorization header
 * has named a user, on a board with users: room for a frame with its own
 * `auth` object, not for a payload that costs heap before anyone is known.
 */
export const ANONYMOUS_BODY_MAX = 1024;

export interface RpcAuth {
  /** Its state is what tests look at. */
  readonly guard: NonceGuard;
  /**
   * Decided from an HTTP request's head, before its body is read: a refusal
   * (401 with a challenge) when the body is over ANONYMOUS_BODY_MAX and the
   * head's credentials name no user on a board that has users.
   */
  admitBody(channel: ChannelInfo, bodyLength: number): RpcErrorBody | undefined;
}

/**
 * Users named by a request's Authorization header, by that request's header
 * object: checked once whether at the head or at the call (a second check
 * of the same digest would be refused as a replay), and for a WebSocket, once
 * for the connection, as rpc-common attaches the handshake's user to it.
 */
const headerUsers = new WeakMap<object, Authn>();

/** Install the prehandler. */
export function installAuth(rpc: Dispatcher, options: AuthOptions): RpcAuth {
  const guard = new NonceGuard(options.nowSeconds());
  let parsed: { text: string; acl: ParsedAcl } | undefined;
  const aclOf = (text: string): ParsedAcl => {
    if (parsed?.text !== text) parsed = { text, acl: parseAcl(text) };
    return parsed.acl;
  };

  rpc.addPrehandler((ctx) => {
    const settings = options.settings();
    const users = new Map(Object.entries(settings.users));
    let acl: Acl;
    if (settings.acl !== "") {
      const p = aclOf(settings.acl);
      if (!p.ok) {
        log.error("auth", `rpc.acl is invalid (${p.reason}): refusing ${ctx.frame.method}`);
        return { code: 500, message: "invalid rpc.acl" };
      }
      acl = p.acl;
    } else if (users.size > 0) {
      acl = DEFAULT_ACL;
    } else {
      return undefined;
    }
    const rule = lookupAcl(acl, ctx.frame.method, ctx.channel.type);
    if (!rule || rule.kind === "deny") return UNAUTHORIZED;
    if (rule.kind === "allow") return undefined;

    const config: AuthConfig = { realm: settings.realm, algorithm: algorithmOf(settings.authAlgo), users };
    const now = Math.floor(options.nowSeconds());
    const who = authenticate(ctx.frame.auth, ctx, config, guard, now);
    if (who === "bad-request") return { code: 400, message: "bad request" };
    if (who === "unauthenticated") return { code: 401, message: frameChallengeMessage(config.realm, now, config.algorithm) };
    if (userAllowed(rule, who.user)) return undefined;
    log.warn("auth", `${who.user} may not call ${ctx.frame.method} on ${ctx.channel.type}`);
    return UNAUTHORIZED;
  });

  return {
    guard,
    admitBody(channel, bodyLength) {
      if (bodyLength <= ANONYMOUS_BODY_MAX) return undefined;
      const settings = options.settings();
      const users = new Map(Object.entries(settings.users));
      if (users.size === 0) return undefined;
      const config: AuthConfig = { realm: settings.realm, algorithm: algorithmOf(settings.authAlgo), users };
      const now = Math.floor(options.nowSeconds());
      if (typeof headerUser(channel, config, guard, now) === "object") return undefined;
      log.warn("auth", `${channel.type} ${channel.info}: ${bodyLength} bytes of body without credentials refused`);
      return { code: 401, message: frameChallengeMessage(config.realm, now, config.algorithm) };
    },
  };
}

function authenticate(frameAuth: unknown, ctx: CallContext, config: AuthConfig, guard: NonceGuard, now: number): Authn {
  let who: Authn = "unauthenticated";
  if (frameAuth !== undefined) {
    who = checkFrameAuth(frameAuth, config, guard, now);
    if (who === "bad-request") return who;
  }
  const header = ctx.channel.headers?.["authorization"];
  if (who === "unauthenticated" && header !== undefined) who = headerUser(ctx.channel, config, guard, now);
  if (who === "unauthenticated" && (frameAuth !== undefined || header !== undefined)) {
    log.warn("auth", `${ctx.channel.type} ${ctx.channel.info}: credentials for ${ctx.frame.method} refused`);
  }
  return who;
}

/** What the channel's Authorization header says, checked once per request (see headerUsers). */
function headerUser(channel: ChannelInfo, config: AuthConfig, guard: NonceGuard, now: number): Authn {
  const headers = channel.headers;
  const header = headers?.["authorization"];
  if (headers === undefined || header === undefined) return "unauthenticated";
  let who = headerUsers.get(headers);
  if (who === undefined) {
    who = checkAuthorizationHeader(header, channel.request, config, guard, now);
    headerUsers.set(headers, who);
  }
  return who;
}
