// The char[N] fields of ESP-IDF structs: UTF-8, NUL-padded. `terminated`
// matches how IDF fills a field (esp_app_desc_t strings come from C literals,
// so at most N-1 characters; partition labels may use all 16 bytes).

import type { ErrorClass } from "./errors.js";

const utf8 = new TextDecoder("utf-8");

export function encodeFixedString(
  value: string,
  size: number,
  field: string,
  ErrorType: ErrorClass,
  { terminated }: { terminated: boolean },
): Buffer {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.toString("utf8") !== value) throw new ErrorType(`${field} is not well-formed Unicode`);
  if (bytes.includes(0)) throw new ErrorType(`${field} contains a NUL character`);
  const max = terminated ? size - 1 : size;
  if (bytes.length > max) {
    throw new ErrorType(`${field} "${value}" is ${bytes.length} bytes; at most ${max} fit`);
  }
  const out = Buffer.alloc(size);
  bytes.copy(out);
  return out;
}

/** Up to the first NUL, or the whole field when it has none. */
export function decodeFixedString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8.decode(end < 0 ? bytes : bytes.subarray(0, end));
}
