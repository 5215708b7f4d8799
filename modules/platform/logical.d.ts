// Moddable's `logical` (modules/data/logical): bitwise operations over
// buffers in native code. Not in Moddable's typings; mapped for the ESP32
// build in manifest.json, so mcconfig's tsc reads it too; the virtual board
// builds the same module (from XS 13.3's copy in node_modules) into its XS
// host. That copy has no `count` argument, so none is declared here.

declare module "logical" {
  type Bytes = ArrayBuffer | ArrayBufferView;
  type Operand = number | string | Bytes;

  /** Each operation combines all of `dst` in place with `src`, repeated as needed. */
  export default class Logical {
    static xor(dst: Bytes, src: Operand): void;
    static and(dst: Bytes, src: Operand): void;
    static or(dst: Bytes, src: Operand): void;
    static not(dst: Bytes): void;
  }
}
