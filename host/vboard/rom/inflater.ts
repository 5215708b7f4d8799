// Streaming zlib inflate for FLASH_DEFL_DATA: each block is inflated as it
// arrives, as the ROM and the stub do, so the flash is written block by block.
// Node's zlib streams are asynchronous: a sync flush after each block, then
// one turn of the event loop, and everything that block produced has been
// emitted.

import zlib from "node:zlib";

export class Inflater {
  readonly #z = zlib.createInflate();
  #error: Error | undefined;
  #output: Buffer[] = [];

  constructor() {
    // Flowing mode: a paused stream would stop inflating once its buffer fills.
    this.#z.on("data", (chunk: Buffer) => this.#output.push(chunk));
    this.#z.on("error", (e: Error) => (this.#error ??= e));
  }

  /** Inflate one block; resolves with the bytes it produced, rejects on corrupt data. */
  async push(block: Uint8Array): Promise<Buffer> {
    if (this.#error) throw this.#error;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.#z.once("error", onError);
      this.#z.write(block);
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.#z.off("error", onError);
        if (this.#error) reject(this.#error);
        else resolve();
      });
    });
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#error) throw this.#error;
    const out = Buffer.concat(this.#output);
    this.#output = [];
    return out;
  }

  close(): void {
    this.#z.destroy();
  }
}
