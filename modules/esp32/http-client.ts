// "board/http-client" on the ESP32: one GET over Moddable's classic `http`
// Request, the body handed on fragment by fragment as it arrives (memory
// stays constant in the image size); no redirects followed, that policy is in
// ota/downloader. Plain http only: TLS would need the server's CA
// certificates built in (Moddable `securesocket` with `ca*.der` resources),
// which is a per-deployment choice; https URLs are refused with that reason.

import { Request } from "http";
import Timer from "timer";
import type { HttpClientPort, HttpGetHandlers } from "platform/ports";
import { errorText, guard } from "esp32/guard";
import { parseHttpUrl, type HttpTarget } from "esp32/http-url";

export const httpClient: HttpClientPort = {
  get(url, headers, handlers) {
    let ended = false;
    let request: Request | undefined;
    // Errors found before the request exists are reported on the next turn:
    // the caller keeps its handle from get()'s return value, not before.
    const failSoon = (message: string) => {
      const timer = Timer.set(
        guard("http-get", () => {
          if (ended) return;
          ended = true;
          handlers.onError(message);
        }),
      );
      return {
        cancel() {
          ended = true;
          Timer.clear(timer);
        },
      };
    };

    const target = parseHttpUrl(url);
    if (typeof target === "string") return failSoon(target);
    try {
      request = new Request({ host: target.host, port: target.port, path: target.path, method: "GET", headers: requestHeaders(target, headers) });
    } catch (e) {
      return failSoon(`cannot connect to ${target.host}:${target.port}: ${errorText(e)}`);
    }

    const end = () => {
      ended = true;
      try {
        request?.close();
      } catch {
        // Already closed by the http module.
      }
      request = undefined;
    };
    let status = 0;
    const received: Record<string, string> = {};
    request.callback = guard(
      "http-get",
      (message: number, value?: unknown, etc?: unknown) => {
        if (ended || !request) return;
        if (message === Request.status) status = Number(value);
        else if (message === Request.header) {
          const name = String(value);
          received[name] = name in received ? `${received[name]}, ${String(etc)}` : String(etc);
        } else if (message === Request.headersComplete) handlers.onHeaders(status, received);
        else if (message === Request.responseFragment) deliver(request, Number(value), handlers);
        else if (message === Request.responseComplete) {
          end();
          handlers.onEnd();
        } else if (message < 0) {
          end();
          handlers.onError(status === 0 ? `cannot connect to ${target.host}:${target.port}` : "the connection dropped");
        }
      },
      () => {
        // A handler threw: this transfer is over, and its owner must hear of it.
        if (ended) return;
        end();
        handlers.onError("the transfer failed");
      },
    );
    return { cancel: () => end() };
  },
};

/** Reads the fragment the Request announced (it counts chunked and Content-Length bodies itself). */
function deliver(request: Request, count: number, handlers: HttpGetHandlers): void {
  if (count <= 0) return;
  const bytes = request.read(ArrayBuffer, count);
  if (bytes && bytes.byteLength > 0) handlers.onData(new Uint8Array(bytes));
}

/** Request's header list: name, value, name, value... plus Host with the port and Basic credentials. */
function requestHeaders(target: HttpTarget, headers: Readonly<Record<string, string>>): string[] {
  const list: string[] = ["Host", target.authority];
  if (target.userinfo !== undefined) {
    list.push("Authorization", "Basic " + new Uint8Array(ArrayBuffer.fromString(target.userinfo)).toBase64());
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== "host") list.push(name, value);
  }
  return list;
}
