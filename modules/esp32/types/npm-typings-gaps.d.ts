// What Moddable SDK 7.x declares for the firmware but @moddable/typings 5.6.0
// (the only release on npm) lacks: tsconfig.esp32.json reads this file, the
// device build does not (mcconfig uses $MODDABLE/typings and
// xs/includes/xs.d.ts, which have these declarations already).

// xs/includes/xs.d.ts (XS 6.0 and later): host functions and host objects.
declare function Native(name: string): new (...args: any[]) => any;
declare function native(name: string): (...args: any[]) => any;

// xs/includes/xs.d.ts: XS implements Uint8Array base64 (TC39 proposal).
interface Uint8Array {
  toBase64(): string;
}
