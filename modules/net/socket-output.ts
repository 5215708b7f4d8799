// Writing to a Moddable TCP socket (`socket` module: lwIP on the ESP32, the
// host's sockets on the virtual board) without losing or
// blocking: a write larger than the room in lwIP's send buffer throws "can't
// write all data", so bytes queue here and go out as the socket reports room
// (its "writable" message, as the peer acknowledges).

import type { StreamSocket } from "net/tcp-sockets";

export class SocketOutput {
  readonly #socket: StreamSocket;
  readonly #onDrained: () => void;
  #queue: Uint8Array[] = [];

  /** `onDrained` runs whenever the queue empties after a send or on the socket's "writable". */
  constructor(socket: StreamSocket, onDrained: () => void) {
    this.#socket = socket;
    this.#onDrained = onDrained;
  }

  get idle(): boolean {
    return this.#queue.length === 0;
  }

  /** Queues the parts in order and writes what fits now. */
  send(...parts: Uint8Array[]): void {
    for (const part of parts) if (part.length > 0) this.#queue.push(part);
    this.flush();
  }

  /** Writes as much as fits; call it when the socket reports room. */
  flush(): void {
    while (this.#queue.length > 0) {
      const room = this.#socket.write();
      if (room <= 0) return;
      const head = this.#queue[0]!;
      if (head.length <= room) {
        this.#socket.write(head);
        this.#queue.shift();
      } else {
        this.#socket.write(head.subarray(0, room));
        this.#queue[0] = head.subarray(room);
        return;
      }
    }
    this.#onDrained();
  }

  /** Drops what is queued (the connection is gone). */
  clear(): void {
    this.#queue = [];
  }
}

/** A string's bytes as XS encodes strings in ArrayBuffers: UTF-8. */
export function utf8Bytes(text: string): Uint8Array {
  return new Uint8Array(ArrayBuffer.fromString(text));
}
