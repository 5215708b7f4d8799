// The virtual board's link to its supervisor (fd 3/4, host/vboard/README.md):
// JSON messages with a type `t`, optionally with binary bytes. What a real
// board gets from its network stack (HTTP requests, ...) arrives here.

export interface LinkMessage {
  readonly t: string;
  readonly [key: string]: unknown;
}

type LinkHandler = (message: LinkMessage, bytes: ArrayBuffer | undefined) => void;

const handlers = new Map<string, LinkHandler>();
let listening = false;

/** Route messages of type `t` to `handler` (one handler per type). */
export function onLink(t: string, handler: LinkHandler): void {
  handlers.set(t, handler);
  if (listening) return;
  listening = true;
  native("xs_vb_link_on_message").call(undefined, (json: string, bytes: ArrayBuffer | undefined) => {
    const message = JSON.parse(json) as LinkMessage;
    handlers.get(message.t)?.(message, bytes);
  });
}

export function sendLink(message: LinkMessage, bytes?: ArrayBuffer): void {
  native("xs_vb_link_send").call(undefined, JSON.stringify(message), bytes);
}
