// A raw TCP connection to the board for the HTTP and WebSocket generators:
// writes exactly the bytes given (with pauses), then ends the way the case
// says, and never waits longer than its bounds.

import net from "node:net";

export type Finish = "read" | "half-close" | "reset" | "hold";

export interface Chunk {
  readonly b64: string;
  readonly delayMs?: number;
}

export interface Exchange {
  readonly refused: boolean;
  readonly received: Buffer;
  readonly closedByPeer: boolean;
  /** HTTP status codes of the responses seen. */
  readonly statuses: number[];
}

/** Status codes and whether every response in `buf` is complete (by Content-Length; 1xx skipped). */
export function httpResponses(buf: Buffer): { statuses: number[]; complete: number; partial: boolean } {
  const statuses: number[] = [];
  let complete = 0;
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end < 0) return { statuses, complete, partial: true };
    const head = buf.subarray(at, end).toString("latin1");
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(head)?.[1] ?? 0);
    statuses.push(status);
    at = end + 4;
    if (status >= 100 && status < 200) continue;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return { statuses, complete: complete + 1, partial: false };
    const bodyEnd = at + Number(length[1]);
    if (bodyEnd > buf.length) return { statuses, complete, partial: true };
    at = bodyEnd;
    complete++;
  }
  return { statuses, complete, partial: false };
}

export interface ExchangeOptions {
  readonly port: number;
  readonly chunks: readonly Chunk[];
  readonly finish: Finish;
  /** Nothing more came for this long after a complete answer: done. */
  readonly settleMs?: number;
  /** Nothing at all came for this long after the last write: done. */
  readonly quietMs?: number;
  readonly capMs?: number;
  /** Resolves when the caller's case is over (for "hold"). */
  readonly until?: Promise<void>;
  /** Done early when this says the answer is complete. */
  readonly done?: (received: Buffer) => boolean;
  /** Called once connected and after each write, with a way to send more. */
  readonly onData?: (received: Buffer, write: (b: Buffer) => void) => void;
  /** Applied to each chunk before it is written (the device id put in). */
  readonly transform?: (b: Buffer) => Buffer;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function exchange(o: ExchangeOptions): Promise<Exchange> {
  const settleMs = o.settleMs ?? 4;
  const quietMs = o.quietMs ?? 60;
  const capMs = o.capMs ?? 1500;
  return new Promise((resolve) => {
    const socket = net.connect(o.port, "127.0.0.1");
    socket.setNoDelay(true);
    const parts: Buffer[] = [];
    let received = Buffer.alloc(0);
    let closed = false;
    let refused = false;
    let lastActivity = Date.now();
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ refused, received, closedByPeer: closed, statuses: httpResponses(received).statuses });
    };
    socket.on("data", (c: Buffer) => {
      parts.push(c);
      received = Buffer.concat(parts);
      lastActivity = Date.now();
      o.onData?.(received, (b) => socket.write(b));
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED") refused = true;
    });
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.on("connect", async () => {
      const started = Date.now();
      for (const c of o.chunks) {
        if (closed) break;
        const bytes = Buffer.from(c.b64, "base64");
        socket.write(o.transform ? o.transform(bytes) : bytes);
        lastActivity = Date.now();
        if (c.delayMs) await sleep(c.delayMs);
      }
      if (closed) return;
      if (o.finish === "reset") {
        socket.resetAndDestroy();
        return;
      }
      if (o.finish === "half-close") socket.end();
      if (o.finish === "hold") {
        await Promise.race([o.until ?? Promise.resolve(), sleep(capMs)]);
        return finish();
      }
      while (!settled && Date.now() - started < capMs) {
        await sleep(2);
        const idle = Date.now() - lastActivity;
        if (o.done?.(received) && idle >= settleMs) break;
        if (!o.done) {
          const r = httpResponses(received);
          if (r.complete > 0 && !r.partial && idle >= settleMs) break;
        }
        if (idle >= quietMs) break;
      }
      finish();
    });
  });
}
