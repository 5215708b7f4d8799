// The URLs net/http-client fetches: http://[user:pass@]host[:port][/path][?query].
// Pure, so the tests run it under Node.

export interface HttpTarget {
  /** Host name or address to connect to (an IPv6 literal without brackets). */
  readonly host: string;
  readonly port: number;
  /** The Host header: host as written in the URL, with the port unless 80. */
  readonly authority: string;
  /** Path and query, as sent on the request line. */
  readonly path: string;
  /** user:password from the URL, decoded, for Basic authentication. */
  readonly userinfo?: string;
}

/**
 * The longest URL fetched, in characters. Mongoose OS documents none. 2048 is
 * what URLs have long been kept to so that every browser, proxy and CDN takes
 * them (sitemaps.org's limit, just under old IE's 2083), ample for a signed
 * download link; each URL is copied a few times on its way out (the RPC
 * request, the log line, the request head), so a longer one would only take
 * heap an update needs.
 */
export const MAX_URL_LENGTH = 2048;

const URL_RE = /^http:\/\/(?:([^@/?#]*)@)?(\[[0-9a-f:.]+\]|[^/?#:[\]@]+)(?::(\d{1,5}))?([/?][^#]*)?(?:#.*)?$/i;

/** The request to make for `url`, or why it cannot be fetched. */
export function parseHttpUrl(url: string): HttpTarget | string {
  // Checked first, and the URL not quoted: the refusal must not copy it.
  if (url.length > MAX_URL_LENGTH) return `URL is too long: ${url.length} characters, at most ${MAX_URL_LENGTH}`;
  if (/^https:/i.test(url)) return `${url}: https is not supported by this firmware (no TLS certificates built in); use http`;
  const m = URL_RE.exec(url);
  if (!m) return `${url}: not an http:// URL`;
  const port = m[3] === undefined ? 80 : Number(m[3]);
  if (port < 1 || port > 65535) return `${url}: bad port`;
  let path = m[4] ?? "/";
  if (path.startsWith("?")) path = "/" + path;
  const written = m[2]!;
  const target = { host: written.replace(/^\[|\]$/g, ""), port, authority: port === 80 ? written : `${written}:${port}`, path };
  if (m[1] === undefined) return target;
  try {
    return { ...target, userinfo: decodeURIComponent(m[1]) };
  } catch {
    return `${url}: malformed user name or password`;
  }
}
