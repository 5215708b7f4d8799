// TCP sockets for the board's network code: Moddable's classic `socket`
// (lwIP on the ESP32, the XS host's sockets on the virtual board), counted
// against lwIP's pool of TCP control blocks. That pool is small and its
// exhaustion is fatal: a connection that arrives when no pcb is left reaches
// the listener as a NULL pcb, which Moddable 7.2.1 dereferences (a panic,
// and on a trial image a rollback). So every socket is counted here from
// creation to close(), and the HTTP server listens only while the pool can
// take a full accept queue (net/http-server).

import { Listener, Socket } from "socket";

/** lwIP's TCP pcbs on Moddable's ESP32 build, listeners included (sdkconfig.defaults: CONFIG_LWIP_MAX_ACTIVE_TCP). */
export const TCP_PCBS = 8;
/** Connections lwIP may take from a listener before the firmware hears of one (Moddable: MODDEF_SOCKET_LISTENERQUEUE). */
export const LISTENER_QUEUE = 4;

/** Messages of a classic socket's callback (modules/network/socket/socket.js). */
export const SocketMessage = {
  ERROR: -2,
  DISCONNECTED: -1,
  CONNECTED: 1,
  READABLE: 2,
  WRITABLE: 3,
} as const;

type Message = -2 | -1 | 1 | 2 | 3;

/** What the network code uses of a connected classic TCP socket. */
export interface StreamSocket {
  callback: (message: Message, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  /** Throws away the bytes received so far without allocating them; returns their count. */
  skip(): number;
  /** Bytes lwIP accepts now. */
  write(): number;
  write(data: Uint8Array): void;
  close(): void;
  get(name: "REMOTE_IP"): string | undefined;
}

let inUse = 0;
const watchers: Array<() => void> = [];

/** Sockets created and not yet closed: the pcbs they may hold. */
export function socketsInUse(): number {
  return inUse;
}

/** Runs `watcher` after every change of socketsInUse(). */
export function onSocketsChanged(watcher: () => void): void {
  watchers.push(watcher);
}

function counted(delta: number): void {
  inUse += delta;
  for (const watcher of watchers) watcher();
}

class CountedSocket implements StreamSocket {
  callback: StreamSocket["callback"] = () => {};
  readonly #raw: StreamSocket;
  #open = true;

  constructor(raw: StreamSocket) {
    this.#raw = raw;
    raw.callback = (message, value) => this.callback(message, value);
    counted(1);
  }

  read(type: typeof ArrayBuffer): ArrayBuffer {
    return this.#raw.read(type);
  }

  skip(): number {
    return (this.#raw as unknown as { read(type: null): number }).read(null);
  }

  write(): number;
  write(data: Uint8Array): void;
  write(data?: Uint8Array): number | void {
    return data === undefined ? this.#raw.write() : this.#raw.write(data);
  }

  get(name: "REMOTE_IP"): string | undefined {
    return this.#raw.get(name);
  }

  close(): void {
    if (this.#open) {
      this.#open = false;
      counted(-1);
    }
    this.#raw.close();
  }
}

/**
 * Accepts the connection a listener announced. The casts here are the only
 * ones (with skip's): Moddable's typings lack the socket's `get("REMOTE_IP")`,
 * the count-less `read()` and `read(null)`, which skips, all of which its
 * socket has.
 */
export function acceptSocket(listener: Listener): StreamSocket {
  return new CountedSocket(new Socket({ listener }) as unknown as StreamSocket);
}

/** Starts a TCP connection; its callback hears CONNECTED, or ERROR when it fails. Throws when no pcb is free. */
export function connectSocket(host: string, port: number): StreamSocket {
  return new CountedSocket(new Socket({ host, port }) as unknown as StreamSocket);
}
