// Framing of the supervisor <-> board link (host/vboard/README.md):
// u32le JSON length, u32le binary length, the JSON, the bytes.

export interface LinkFrame {
  readonly message: { readonly t: string; readonly [key: string]: unknown };
  readonly bytes?: Buffer;
}

export function encodeLinkFrame(message: LinkFrame["message"], bytes?: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(message), "utf8");
  const head = Buffer.alloc(8);
  head.writeUInt32LE(json.length, 0);
  head.writeUInt32LE(bytes?.length ?? 0, 4);
  return Buffer.concat([head, json, bytes ?? Buffer.alloc(0)]);
}

export class LinkDecoder {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): LinkFrame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const frames: LinkFrame[] = [];
    while (this.#buffer.length >= 8) {
      const jsonLength = this.#buffer.readUInt32LE(0);
      const binLength = this.#buffer.readUInt32LE(4);
      const total = 8 + jsonLength + binLength;
      if (this.#buffer.length < total) break;
      const message = JSON.parse(this.#buffer.subarray(8, 8 + jsonLength).toString("utf8"));
      const bytes = binLength ? Buffer.from(this.#buffer.subarray(8 + jsonLength, total)) : undefined;
      frames.push({ message, bytes });
      this.#buffer = this.#buffer.subarray(total);
    }
    return frames;
  }
}
