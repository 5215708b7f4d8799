// OTA.Update's download policy (spec/mos-rpc.md §1.2, §7.26): follow
// redirects, resume a dropped transfer with Range (and start over cleanly
// when the server answers 200 or 416 instead of 206), report 304, other
// statuses and connection failures with their codes. Time limits are the
// updater's progress watchdog, not a fixed total.

import type { HttpClientPort } from "platform/ports";
import { parseHttpUrl } from "net/http-url";
import { UpdateCode, UpdateError } from "ota/update-error";
import { log } from "sys/log";

export interface DownloadTarget {
  /** Bytes already accepted; a resumed transfer asks for what follows. */
  readonly received: number;
  /** Takes the next bytes; throws the UpdateError that ends the update. */
  feed(bytes: Uint8Array): void;
  /** Whether everything needed has arrived (the zip's central directory). */
  readonly complete: boolean;
}

export interface DownloadOptions {
  maxRedirects?: number;
  /** Attempts to resume after the connection dropped mid-transfer. */
  maxResumes?: number;
  /** Extra request headers (X-MGOS-Device-ID and the like). */
  headers?: Readonly<Record<string, string>>;
}

const REDIRECTS = [301, 302, 303, 307, 308];

/**
 * Why `url` cannot be downloaded (not http://, longer than MAX_URL_LENGTH, a
 * bad port, ...), or undefined when it can: asked before anything is started
 * or sent for it.
 */
export function urlRefusal(url: string): string | undefined {
  const target = parseHttpUrl(url);
  return typeof target === "string" ? target : undefined;
}

/** `location` resolved against `base` (absolute URL, absolute path, or relative path). */
export function resolveUrl(base: string, location: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return location;
  const origin = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^?#]*)/i.exec(base);
  if (!origin) return location;
  if (location.startsWith("//")) return base.slice(0, base.indexOf("//")) + location;
  if (location.startsWith("/")) return origin[1] + location;
  const dir = origin[2]!.slice(0, origin[2]!.lastIndexOf("/") + 1) || "/";
  return origin[1] + dir + location;
}

export class Download {
  readonly #client: HttpClientPort;
  readonly #target: DownloadTarget;
  readonly #options: Required<Omit<DownloadOptions, "headers">> & { headers: Readonly<Record<string, string>> };
  readonly #done: (error?: UpdateError) => void;
  #url: string;
  #redirects = 0;
  #resumes = 0;
  /** Bytes of the current response to drop: it restarted from 0 though we have them. */
  #skip = 0;
  #request: { cancel(): void } | undefined;
  #finished = false;

  constructor(client: HttpClientPort, url: string, target: DownloadTarget, done: (error?: UpdateError) => void, options: DownloadOptions = {}) {
    this.#client = client;
    this.#url = url;
    this.#target = target;
    this.#done = done;
    this.#options = { maxRedirects: options.maxRedirects ?? 5, maxResumes: options.maxResumes ?? 5, headers: options.headers ?? {} };
    this.#start(true);
  }

  /** Stop without reporting (the update already ended for another reason). Once is enough: later calls do nothing. */
  cancel(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#request?.cancel();
  }

  #start(useRange: boolean): void {
    const headers: Record<string, string> = { ...this.#options.headers };
    const from = this.#target.received;
    if (useRange && from > 0) headers["Range"] = `bytes=${from}-`;
    this.#skip = 0;
    const request = this.#client.get(this.#url, headers, {
      onHeaders: (status, h) => this.#current(request) && this.#onHeaders(status, h, from, useRange),
      onData: (bytes) => this.#current(request) && this.#onData(bytes),
      onEnd: () => this.#current(request) && this.#onEnd(),
      onError: (message) => this.#current(request) && this.#onError(message),
    });
    this.#request = request;
  }

  /** Events of a request that was replaced (redirect, resume) are ignored. */
  #current(request: { cancel(): void }): boolean {
    return !this.#finished && this.#request === request;
  }

  #onHeaders(status: number, headers: Readonly<Record<string, string>>, from: number, usedRange: boolean): void {
    if (REDIRECTS.indexOf(status) >= 0) {
      const location = headers["location"];
      if (!location) return this.#finish(UpdateError.httpStatus(status));
      if (++this.#redirects > this.#options.maxRedirects) return this.#finish(new UpdateError(UpdateCode.FAILED, "too many redirects"));
      const next = resolveUrl(this.#url, location);
      const refusal = urlRefusal(next);
      if (refusal) return this.#finish(new UpdateError(UpdateCode.CONNECT_FAILED, `redirected to an unusable URL: ${refusal}`));
      this.#request!.cancel();
      this.#url = next;
      return this.#start(usedRange);
    }
    if (status === 304) return this.#finish(new UpdateError(UpdateCode.NOT_MODIFIED));
    if (status === 416 && usedRange) {
      // The server cannot serve that range: take the whole body again.
      this.#request!.cancel();
      return this.#start(false);
    }
    if (status === 206) {
      const start = /bytes (\d+)-/.exec(headers["content-range"] ?? "");
      if (!start || Number(start[1]) !== from) {
        this.#request!.cancel();
        return this.#start(false);
      }
      return;
    }
    if (status === 200) {
      // A full body (first request, or a server that ignores Range).
      this.#skip = this.#target.received;
      return;
    }
    this.#finish(UpdateError.httpStatus(status));
  }

  #onData(bytes: Uint8Array): void {
    if (this.#skip > 0) {
      const drop = Math.min(this.#skip, bytes.length);
      this.#skip -= drop;
      bytes = bytes.subarray(drop);
      if (bytes.length === 0) return;
    }
    try {
      this.#target.feed(bytes);
    } catch (e) {
      this.#finish(e instanceof UpdateError ? e : UpdateError.from(e));
    }
  }

  #onEnd(): void {
    if (this.#target.complete) return this.#finish();
    this.#resume("the server closed the connection early");
  }

  #onError(message: string): void {
    if (this.#target.received === 0 && this.#resumes === 0) return this.#finish(new UpdateError(UpdateCode.CONNECT_FAILED, message));
    this.#resume(message);
  }

  #resume(why: string): void {
    if (++this.#resumes > this.#options.maxResumes) {
      return this.#finish(new UpdateError(UpdateCode.NOT_ALL_DATA, `${why}; gave up after ${this.#options.maxResumes} resumes`));
    }
    log.warn("ota", `download interrupted (${why}): resuming at ${this.#target.received}`);
    this.#start(true);
  }

  #finish(error?: UpdateError): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#request?.cancel();
    this.#done(error);
  }
}
