// "board/http-server" on the virtual board: the supervisor owns the TCP port
// (it outlives resets, as a network does) and passes each request over the
// link; the response goes back the same way.

import type { ServeHttp } from "platform/ports";
import type { HttpRequestIn } from "rpc/http-mapping";
import { onLink, sendLink } from "vboard/link";

export const serveHttp: ServeHttp = (handler) => {
  onLink("http", (m) => {
    const request: HttpRequestIn = {
      method: String(m.method),
      path: String(m.path),
      query: String(m.query ?? ""),
      headers: (m.headers ?? {}) as Record<string, string>,
      body: String(m.body ?? ""),
    };
    let answered = false;
    handler(
      request,
      (response) => {
        // One response per request, whatever a channel does by mistake.
        if (answered) return;
        answered = true;
        sendLink({ t: "http-res", id: m.id, status: response.status, headers: response.headers, body: response.body });
      },
      String(m.peer ?? ""),
    );
  });
};
