// fw.zip packages for the OTA generators: a valid package (the real v2 build,
// or a tiny valid image), taken apart into its entries and written again
// with every knob a zip has (a writer of our own: sizes, CRCs, flags,
// methods and names may lie, entries may be reordered, repeated, missing,
// compressed, followed by data descriptors), its manifest rewritten
// (fields missing, mistyped, odd, deep or huge), its app part cut or changed,
// or the bytes mutated where the device reads first (headers, manifest, the
// image header) and anywhere else.
//
// acceptable() is the oracle for a package the device accepted: reading the
// zip as the device does (local headers, in order), the app part must be the
// base image byte for byte. Anything else that goes in is a finding.

import { createHash } from "node:crypto";
import zlib from "node:zlib";
import { readStoredZip } from "../fwpack/stored-zip-reader.ts";
import {
  CENTRAL_HEADER_SIGNATURE as CENTRAL,
  DATA_DESCRIPTOR_SIGNATURE as DESCRIPTOR,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE as EOCD,
  LOCAL_HEADER_SIGNATURE as LOCAL,
  LOCAL_HEADER_SIZE,
  decodeLocalHeader,
} from "../fwpack/zip-records.ts";
import type { FuzzFirmware } from "./board.ts";
import { heavyJson, jsonString, jsonValue } from "./json-gen.ts";
import { mutateBytes } from "./mutate.ts";
import type { Rng } from "./prng.ts";


export interface ZipEntryIn {
  name: Buffer;
  data: Buffer;
  method?: number;
  flags?: number;
  /** Values written instead of the true ones. */
  crc?: number;
  csize?: number;
  usize?: number;
  extra?: Buffer;
  /** A data descriptor after the data (flag bit 3 is the caller's to set). */
  descriptor?: boolean;
}

export function crc32(data: Uint8Array): number {
  return zlib.crc32(data) >>> 0;
}

/** A zip written entry by entry: local header, data, [descriptor]; then the central directory. */
export function writeZip(entries: readonly ZipEntryIn[], options: { central?: boolean; trailer?: Buffer } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const extra = e.extra ?? Buffer.alloc(0);
    const crc = e.crc ?? crc32(e.data);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(LOCAL, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(e.flags ?? 0, 6);
    h.writeUInt16LE(e.method ?? 0, 8);
    h.writeUInt16LE(0, 10);
    h.writeUInt16LE(0x21, 12);
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE((e.csize ?? e.data.length) >>> 0, 18);
    h.writeUInt32LE((e.usize ?? e.data.length) >>> 0, 22);
    h.writeUInt16LE(e.name.length & 0xffff, 26);
    h.writeUInt16LE(extra.length & 0xffff, 28);
    const local = [h, e.name, extra, e.data];
    if (e.descriptor) {
      const d = Buffer.alloc(16);
      d.writeUInt32LE(DESCRIPTOR, 0);
      d.writeUInt32LE(crc32(e.data), 4);
      d.writeUInt32LE(e.data.length, 8);
      d.writeUInt32LE(e.data.length, 12);
      local.push(d);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(CENTRAL, 0);
    c.writeUInt16LE(0x031e, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.flags ?? 0, 8);
    c.writeUInt16LE(e.method ?? 0, 10);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE((e.csize ?? e.data.length) >>> 0, 20);
    c.writeUInt32LE((e.usize ?? e.data.length) >>> 0, 24);
    c.writeUInt16LE(e.name.length & 0xffff, 28);
    c.writeUInt32LE(offset >>> 0, 42);
    central.push(c, e.name);
    const bytes = Buffer.concat(local);
    parts.push(bytes);
    offset += bytes.length;
  }
  if (options.central !== false) {
    const dir = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(EOCD, 0);
    end.writeUInt16LE(entries.length & 0xffff, 8);
    end.writeUInt16LE(entries.length & 0xffff, 10);
    end.writeUInt32LE(dir.length, 12);
    end.writeUInt32LE(offset, 16);
    parts.push(dir, end);
  }
  if (options.trailer) parts.push(options.trailer);
  return Buffer.concat(parts);
}

export interface LocalEntry {
  readonly offset: number;
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly size: number;
  readonly dataOffset: number;
  readonly data: Buffer;
}

/** The entries as a streaming reader sees them: local headers from offset 0, sizes from the headers. */
export function localEntries(zip: Buffer): LocalEntry[] {
  const out: LocalEntry[] = [];
  let at = 0;
  while (at + LOCAL_HEADER_SIZE <= zip.length && zip.readUInt32LE(at) === LOCAL) {
    // The device streams by the compressed size, whatever the other size says.
    const { flags, method, crc32: crc, compressedSize: size, nameStart, nameLength, dataStart: dataOffset } = decodeLocalHeader(zip, at);
    const name = zip.subarray(nameStart, nameStart + nameLength).toString("latin1");
    if (dataOffset + size > zip.length) break;
    out.push({ offset: at, name, flags, method, crc, size, dataOffset, data: zip.subarray(dataOffset, dataOffset + size) });
    at = dataOffset + size;
  }
  return out;
}

const fileName = (entryName: string) => entryName.slice(entryName.indexOf("/") + 1);

/**
 * Whether a package the device accepted may be accepted: read as the device
 * reads it, its first entry is the manifest, stored, and its app part is the
 * base image (v2's or the tiny one) byte for byte, stored, with a right CRC.
 */
export function acceptable(zip: Buffer, fw: FuzzFirmware): { ok: boolean; why: string; appEnd?: number } {
  const entries = localEntries(zip);
  const first = entries[0];
  if (!first || fileName(first.name) !== "manifest.json") return { ok: false, why: "the first entry is not manifest.json" };
  let manifest: { platform?: unknown; parts?: Record<string, { src?: unknown }> };
  try {
    manifest = JSON.parse(first.data.toString("utf8")) as typeof manifest;
  } catch {
    return { ok: false, why: "manifest.json is not JSON" };
  }
  // Case aside (the board takes "ESP32": Mongoose compares platforms without case, and the image is the same),
  // a package for another platform must be refused.
  if (typeof manifest.platform !== "string" || manifest.platform.toLowerCase() !== "esp32") return { ok: false, why: `platform ${JSON.stringify(manifest.platform)}` };
  const src = manifest.parts?.app?.src;
  const app = entries.find((e) => typeof src === "string" && fileName(e.name) === src);
  if (!app) return { ok: false, why: `no entry holds the app part ${JSON.stringify(src)}` };
  if (app.method !== 0 || (app.flags & 8) !== 0 || app.crc !== crc32(app.data)) return { ok: false, why: "the app entry is compressed, has a descriptor or a wrong CRC" };
  for (const base of [fw.v2.app, fw.tiny.app]) if (app.data.equals(base)) return { ok: true, why: "the app part is a known valid image", appEnd: app.dataOffset + app.size };
  return { ok: false, why: `the app part (${app.data.length} bytes, sha256 ${createHash("sha256").update(app.data).digest("hex").slice(0, 16)}) is not a known valid image` };
}

export interface PackageCase {
  readonly base: "v2" | "tiny";
  readonly zip: Buffer;
  readonly what: string;
  /** Mutations deep inside the v2 app cost a whole transfer: generators use them sparingly. */
  readonly costly: boolean;
}

type Manifest = Record<string, unknown>;

function manifestMutation(rng: Rng, m: Manifest): string {
  // An earlier mutation may have taken parts or the app part away: work on fresh ones then.
  if (!m.parts || typeof m.parts !== "object" || Array.isArray(m.parts)) m.parts = {};
  const parts = m.parts as Record<string, Record<string, unknown>>;
  if (!parts.app || typeof parts.app !== "object") parts.app = {};
  const app = parts.app;
  const op = rng.int(20);
  switch (op) {
    case 0: {
      const f = rng.pick(["platform", "version", "build_id", "parts", "name"]);
      delete m[f];
      return `delete ${f}`;
    }
    case 1: {
      const f = rng.pick(["platform", "version", "build_id", "parts"]);
      m[f] = JSON.parse(jsonValue(rng, 2)) as unknown;
      return `retype ${f}`;
    }
    case 2:
      m.platform = rng.pick(["esp8266", "ESP32", "", "esp32 ", "esp32s3", "cc3200", "esp32\u0000"]);
      return `platform ${JSON.stringify(m.platform)}`;
    case 3: {
      const f = rng.pick(["src", "size", "cs_sha1", "cs_sha256", "type", "ptn"]);
      delete app[f];
      return `delete parts.app.${f}`;
    }
    case 4: {
      const f = rng.pick(["src", "size", "cs_sha1", "cs_sha256", "type"]);
      app[f] = JSON.parse(jsonValue(rng, 2)) as unknown;
      return `retype parts.app.${f}`;
    }
    case 5:
      app.size = rng.pick([0, -1, 1.5, (app.size as number) + 1, (app.size as number) - 1, 0x180001, 2 ** 32, 2 ** 53, "12", 1e308]);
      return `parts.app.size ${app.size}`;
    case 6:
      app.cs_sha1 = rng.pick(["", "0".repeat(40), String(app.cs_sha1).toUpperCase(), String(app.cs_sha1).slice(1), "g".repeat(40), String(app.cs_sha1) + "0"]);
      return `parts.app.cs_sha1 ${app.cs_sha1}`;
    case 7:
      app.cs_sha256 = rng.pick(["", "0".repeat(64), String(app.cs_sha256).toUpperCase(), String(app.cs_sha256).slice(2)]);
      delete app.cs_sha1;
      return `parts.app.cs_sha256 only, ${String(app.cs_sha256).slice(0, 8)}`;
    case 8:
      app.src = rng.pick(["../" + String(app.src), "manifest.json", "", "x".repeat(60), String(app.src).toUpperCase(), "/" + String(app.src), String(app.src) + "\u0000"]);
      return `parts.app.src ${JSON.stringify(app.src)}`;
    case 9:
      parts[rng.pick(["fs", "boot", "nvs", "x", "app2", ""])] = rng.chance(0.5) ? { ...app } : { src: "fs.img", type: rng.pick(["fs", "boot", "app"]), update: rng.chance(0.5), size: 10 };
      return "extra part";
    case 10:
      for (let i = rng.range(50, 400); i > 0; i--) parts[`p${i}`] = { src: `p${i}.bin`, size: i };
      return "many parts";
    case 11: {
      const d = rng.range(1, 14);
      m.deep = JSON.parse('{"a":'.repeat(d) + "1" + "}".repeat(d)) as unknown;
      return `deep ${d} (within limits)`;
    }
    case 12:
      m.description = "d".repeat(rng.pick([1000, 4000, 16384, 30000]));
      return "long description";
    case 13:
      m.parts = rng.pick([[], {}, null, "app", [app]]) as unknown;
      return `parts ${JSON.stringify(m.parts)?.slice(0, 20)}`;
    case 14:
      m.version = rng.pick(["", "9".repeat(200), "1.0.0", "2.0.0\u0000", jsonString(rng, 20).slice(1, -1)]);
      return `version ${JSON.stringify(m.version).slice(0, 30)}`;
    case 15:
      m.build_id = rng.pick(["", "x", "1".repeat(300)]);
      return "build_id";
    case 16:
      app.type = rng.pick(["fs", "boot", "", "APP", 1]);
      return `parts.app.type ${app.type}`;
    case 17:
      app.update = true;
      app.type = "boot";
      return "app as boot with update";
    case 18:
      m.extra = JSON.parse(jsonValue(rng, 4, 10)) as unknown;
      return "extra attribute";
    default:
      m.sig = { key: "x", sig: rng.bytes(64).toString("base64") };
      return "signature fields";
  }
}

/** The manifest text after the mutation; some mutations are on the text itself. */
function manifestText(rng: Rng, original: Buffer): { text: Buffer; what: string } {
  const r = rng.float();
  if (r < 0.12) {
    const heavy = rng.chance(0.5) ? heavyJson(rng) : `{"platform":"esp32","deep":${"[".repeat(rng.pick([17, 100, 2000, 5000]))}${"]".repeat(rng.pick([17, 100, 2000, 5000]))}}`;
    return { text: Buffer.from(heavy), what: "manifest: heavy JSON" };
  }
  if (r < 0.2) {
    const t = original.toString("utf8");
    const v = rng.pick([
      () => "\ufeff" + t,
      () => t + rng.pick(["x", "}", "\u0000", " ".repeat(100)]),
      () => t.slice(0, rng.int(t.length)),
      () => t.replace('"parts"', '"parts":{},"parts"'),
      () => t.replace('"platform":"esp32"', '"platform":"esp32","platform":"esp8266"'),
      () => t.replace(/"esp32"/, '"esp\\u0033\\u0032"'),
    ]);
    const out = Buffer.from(v(), "utf8");
    if (rng.chance(0.2)) out[rng.int(out.length)] = 0xff;
    return { text: out, what: "manifest: text edit" };
  }
  const m = JSON.parse(original.toString("utf8")) as Manifest;
  const ops: string[] = [];
  for (let n = rng.weighted([[6, 1], [2, 2], [1, 3]]); n > 0; n--) ops.push(manifestMutation(rng, m));
  return { text: Buffer.from(JSON.stringify(m)), what: `manifest: ${ops.join("; ")}` };
}

/** A mutated package. */
export function mutatePackage(rng: Rng, fw: FuzzFirmware, options: { allowCostly: boolean }): PackageCase {
  const base = options.allowCostly && rng.chance(0.5) ? "v2" : rng.chance(0.3) ? "v2" : "tiny";
  const zip = base === "v2" ? fw.v2.zip : fw.tiny.zip;
  const entries = readStoredZip(zip).map((e) => ({ name: Buffer.from(e.name, "utf8"), data: e.data }));
  const [manifest, app] = [entries[0]!, entries[1]!];
  const kind = rng.weighted([[22, "manifest"], [14, "header"], [14, "structure"], [20, "bytes-front"], [8, "bytes-app-head"], [8, "bytes-end"], [6, "truncate"], [5, "bytes-anywhere"], [3, "wrap"]] as const);
  const result = (bytes: Buffer, what: string, costly = false): PackageCase => ({ base, zip: bytes, what: `${base}: ${what}`, costly: costly && base === "v2" });
  switch (kind) {
    case "manifest": {
      const { text, what } = manifestText(rng, manifest.data);
      return result(writeZip([{ name: manifest.name, data: text }, app]), what, true);
    }
    case "header": {
      // One field of the manifest's or the app's local header, everything else consistent.
      const which = rng.chance(0.55) ? 0 : 1;
      const e: ZipEntryIn = { ...entries[which]! };
      const field = rng.pick(["flags", "method", "crc", "csize", "usize", "extra", "name"] as const);
      const interesting = [0, 1, 0xffff, 0xffffffff, 0x80000000, e.data.length + 1, Math.max(0, e.data.length - 1), 0x180001, rng.u32()];
      if (field === "flags") e.flags = rng.pick([1, 8, 0x800, 0x808, 0xffff, 0x41]);
      else if (field === "method") e.method = rng.pick([8, 9, 12, 14, 99, 0xffff, 1]);
      else if (field === "crc") e.crc = (crc32(e.data) ^ (1 << rng.int(32))) >>> 0;
      else if (field === "csize") e.csize = rng.pick(interesting);
      else if (field === "usize") e.usize = rng.pick(interesting);
      else if (field === "extra") e.extra = rng.pick([Buffer.from([0x01, 0x00, 0x10, 0x00, ...Buffer.alloc(16, 0xff)]), rng.bytes(rng.range(1, 200)), Buffer.alloc(3), Buffer.from([0x3a, 0x29, 0xff, 0xff])]);
      else e.name = Buffer.from(rng.pick(["manifest.json", "x/../manifest.json", "/manifest.json", "a/" + "m".repeat(60), "a/manifest.jsonx", "a/manifest.json\u0000", "a/" + String.fromCharCode(0xe9) + ".bin", "", "a/"]), "latin1");
      const out = entries.map((x, i) => (i === which ? e : x));
      return result(writeZip(out), `${which === 0 ? "manifest" : "app"} header ${field}`, which === 1 && (field === "crc" || field === "usize"));
    }
    case "structure": {
      const junk = { name: Buffer.from("dir/junk.txt"), data: rng.bytes(rng.length(300)) };
      const v = rng.int(12);
      const tiny = readStoredZip(fw.tiny.zip)[1]!;
      const variants: Array<() => [ZipEntryIn[], string, boolean?]> = [
        () => [[app, manifest], "app before manifest"],
        () => [[manifest, manifest, app], "manifest twice"],
        () => [[junk, manifest, app], "an entry before the manifest"],
        () => [[manifest, junk, app, junk], "entries around the app", true],
        () => [[manifest], "no app entry"],
        () => [[manifest, { ...app, data: Buffer.alloc(0) }], "empty app"],
        () => [[manifest, { ...app, data: app.data.subarray(0, rng.int(app.data.length)) }], "app cut, CRC right", true],
        () => {
          const data = Buffer.from(app.data);
          data[rng.int(data.length)]! ^= 1 << rng.int(8);
          return [[manifest, { ...app, data }], "app byte flipped, CRC right", true];
        },
        () => [[manifest, { ...app, data: tiny.data }], "app replaced by another image"],
        () => [[manifest, { ...app, data: zlib.deflateRawSync(app.data), method: 8, usize: app.data.length }], "app deflated"],
        () => [[manifest, { ...app, flags: 8, crc: 0, csize: 0, usize: 0, descriptor: true }], "app with a data descriptor (sizes 0)"],
        () => [[manifest, app, { name: Buffer.from("dir/"), data: Buffer.alloc(0) }, ...Array.from({ length: rng.range(2, 60) }, (_, i) => ({ name: Buffer.from(`dir/f${i}`), data: Buffer.alloc(i) }))], "many entries after the app", true],
      ];
      const [list, what, costly] = variants[v]!();
      return result(writeZip(list, { central: rng.chance(0.9) }), what, costly ?? false);
    }
    case "bytes-front":
    case "bytes-app-head":
    case "bytes-end":
    case "bytes-anywhere": {
      // Mutate a window of the valid zip and put it back: the device meets the damage where it reads.
      const appData = localEntries(zip)[1]!;
      const [from, to] =
        kind === "bytes-front" ? [0, appData.dataOffset] : kind === "bytes-app-head" ? [appData.dataOffset, appData.dataOffset + 320] : kind === "bytes-end" ? [appData.dataOffset + appData.size, zip.length] : [0, zip.length];
      const window = zip.subarray(from, to);
      const m = mutateBytes(rng, window, undefined, 3);
      const costly = kind !== "bytes-front";
      return result(Buffer.concat([zip.subarray(0, from), m.bytes, zip.subarray(to)]), `${kind} [${from}, ${to}) ${m.ops.join(",")}`, costly);
    }
    case "truncate": {
      const at = rng.chance(0.6) ? rng.int(Math.min(zip.length, 2048)) : rng.int(zip.length);
      return result(zip.subarray(0, at), `truncated at ${at}`, at > 4096);
    }
    default: {
      const v = rng.int(3);
      if (v === 0) return result(Buffer.concat([rng.bytes(rng.range(1, 64)), zip]), "junk before the zip");
      if (v === 1) return result(Buffer.concat([zip, rng.bytes(rng.range(1, 4096))]), "junk after the zip", true);
      return result(writeZip([manifest, app], { central: false }), "no central directory", true);
    }
  }
}
