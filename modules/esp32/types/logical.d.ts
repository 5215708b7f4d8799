// Moddable's `logical` (modules/data/logical): bitwise operations over
// buffers in native code. Not in Moddable's typings; mapped for the ESP32
// build in manifest.json, so mcconfig's tsc reads it too.

declare module "logical" {
  type Bytes = ArrayBuffer | ArrayBufferView;
  type Operand = number | string | Bytes;

  /** Each operation combines `dst` in place with `src`, repeated as needed, over `count` bytes (all of `dst` by default). */
  export default class Logical {
    static xor(dst: Bytes, src: Operand, count?: number): void;
    static and(dst: Bytes, src: Operand, count?: number): void;
    static or(dst: Bytes, src: Operand, count?: number): void;
    static not(dst: Bytes, count?: number): void;
  }
}
