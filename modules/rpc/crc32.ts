// CRC-32 (IEEE 802.3, as zlib's crc32 and Go's crc32.ChecksumIEEE): the
// checksum mos puts after each UART frame. Table-driven, so a 4 KB frame costs
// 4096 table lookups and no allocation beyond the table built once.

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 of the low byte of each char code of an ASCII/binary string. */
export function crc32OfString(text: string, start = 0, end = text.length): number {
  const t = crcTable();
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = t[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of bytes; `seed` continues a previous result (zlib's crc32(seed, buf)). */
export function crc32(bytes: Uint8Array, seed = 0): number {
  const t = crcTable();
  let crc = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Eight lower-case hex digits, the UART metadata form. */
export function crcHex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, "0");
}
