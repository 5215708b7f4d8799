// Engine globals of Moddable's XS (xs/includes/xs.d.ts), declared here for the
// repository's own type check. Moddable builds use their own typings and do
// not read this file.

/** A host function bound by name; the facade declares the precise signature. */
declare function native(name: string): (this: unknown, ...args: unknown[]) => unknown;
/** A base class whose instances are host objects with the named C destructor. */
declare function Native(destructor: string): new () => object;
/** Writes to the debug console (UART0 on the device); adds no newline. */
declare function trace(...values: unknown[]): void;

interface StringConstructor {
  /** The UTF-8 text of the bytes (throws on invalid UTF-8). */
  fromArrayBuffer(buffer: ArrayBufferLike): string;
}

interface ArrayBufferConstructor {
  /** The UTF-8 bytes of a string. */
  fromString(text: string): ArrayBuffer;
}
