// ZIP archives that other writers produce, built by hand so that tests need
// neither Go nor a zip tool: a deflated entry, and the data-descriptor layout
// of Go's stock archive/zip writer (general-purpose bit 3 on every file, CRC
// and sizes zero in the local header, then a signed 16-byte descriptor after
// the data; real values only in the central directory). Deliberately written
// apart from host/fwpack's writer, so a shared mistake cannot hide. Plus Info-ZIP's
// `unzip -t` as an outside judge of an archive.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

export interface RawZipEntry {
  name: string;
  data: Uint8Array;
  /** 0 stored (default), 8 deflate. */
  method?: 0 | 8;
  /** Go's layout: bit 3, zeros in the local header, a descriptor after the data. */
  dataDescriptor?: boolean;
}

export function rawZip(entries: readonly RawZipEntry[]): Buffer {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const method = e.method ?? 0;
    const body = method === 8 ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = zlib.crc32(e.data);
    const flags = e.dataDescriptor ? 0x8 : 0;
    // Go leaves the DOS time and date 0 when FileHeader.Modified is unset.
    const fixed = (h: Buffer, at: number, inLocal: boolean) => {
      h.writeUInt16LE(20, at); // version needed
      h.writeUInt16LE(flags, at + 2);
      h.writeUInt16LE(method, at + 4);
      const hide = inLocal && e.dataDescriptor;
      h.writeUInt32LE(hide ? 0 : crc, at + 10);
      h.writeUInt32LE(hide ? 0 : body.length, at + 14);
      h.writeUInt32LE(hide ? 0 : e.data.length, at + 18);
      h.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fixed(local, 4, true);
    const parts = [local, name, body];
    if (e.dataDescriptor) {
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc, 4);
      descriptor.writeUInt32LE(body.length, 8);
      descriptor.writeUInt32LE(e.data.length, 12);
      parts.push(descriptor);
    }
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4); // made by: FAT, 2.0 (Go's default creator)
    fixed(header, 6, false);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    for (const p of parts) offset += p.length;
    out.push(...parts);
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...out, directory, end]);
}

/** `unzip -t` on the archive: its exit status and output. */
export function infoZipTest(zip: Uint8Array): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-zip-"));
  try {
    const file = path.join(dir, "fw.zip");
    fs.writeFileSync(file, zip);
    const r = spawnSync("unzip", ["-t", file], { encoding: "utf8" });
    if (r.error) throw new Error(`cannot run unzip (Debian package "unzip"; make setup installs it): ${r.error.message}`);
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
