// Moddable's `crypt` digests (modules/crypt/digest), as SDK 7.x declares them
// in typings/crypt.d.ts, which @moddable/typings 5.6.0 (the only release on
// npm) lacks. Read by tsconfig.esp32.json only: the device build has the
// SDK's own, so this file is not in manifest.json.

declare module "crypt" {
  type DigestType = "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";

  export class Digest {
    constructor(type: DigestType);
    write(message: string | ArrayBuffer): void;
    close(): ArrayBuffer;
    reset(): void;
    get blockSize(): number;
    get outputSize(): number;
    update(message: string | ArrayBuffer): void;
  }
}
