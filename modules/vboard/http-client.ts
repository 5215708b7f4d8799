// "board/http-client" on the virtual board: the supervisor makes the request
// (the host's network is the board's network) and streams the response back
// over the link; one GET, no redirects followed.

import type { HttpClientPort, HttpGetHandlers } from "platform/ports";
import { onLink, sendLink } from "vboard/link";

const requests = new Map<number, HttpGetHandlers>();
let nextId = 1;
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  onLink("http-get-head", (m) => requests.get(Number(m.id))?.onHeaders(Number(m.status), (m.headers ?? {}) as Record<string, string>));
  onLink("http-get-data", (m, bytes) => {
    if (bytes) requests.get(Number(m.id))?.onData(new Uint8Array(bytes));
  });
  onLink("http-get-end", (m) => {
    const handlers = requests.get(Number(m.id));
    requests.delete(Number(m.id));
    handlers?.onEnd();
  });
  onLink("http-get-error", (m) => {
    const handlers = requests.get(Number(m.id));
    requests.delete(Number(m.id));
    handlers?.onError(String(m.message));
  });
}

export const httpClient: HttpClientPort = {
  get(url, headers, handlers) {
    listen();
    const id = nextId++;
    requests.set(id, handlers);
    sendLink({ t: "http-get", id, url, headers });
    return {
      cancel() {
        if (requests.delete(id)) sendLink({ t: "http-get-cancel", id });
      },
    };
  },
};
