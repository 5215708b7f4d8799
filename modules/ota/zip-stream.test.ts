import assert from "node:assert/strict";
import { crc32 } from "rpc/crc32";
import { UpdateError } from "ota/update-error";
import { decodeUtf8 } from "sys/utf8";
import { ZipStreamReader, type EntryAction, type ZipEntry, type ZipSink } from "ota/zip-stream";
import { planUpdate } from "ota/fw-manifest";

// --- A small zip writer: enough of PKZIP to make what mos, Python and Go write, and what they must not.

interface TestEntry {
  path: string;
  data: Uint8Array | string;
  method?: number;
  flags?: number;
  /** Override the header's CRC, sizes, or add an extra field. */
  crc?: number;
  compressedSize?: number;
  size?: number;
  extra?: Uint8Array;
  /** Go's archive/zip: bit 3, zero CRC and sizes in the local header, a descriptor after the data. */
  descriptor?: boolean;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function le(values: [number, 2 | 4][]): Uint8Array {
  const out = new Uint8Array(values.reduce((n, [, w]) => n + w, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [v, w] of values) {
    if (w === 2) view.setUint16(at, v, true);
    else view.setUint32(at, v >>> 0, true);
    at += w;
  }
  return out;
}

function makeZip(entries: TestEntry[]): Uint8Array {
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = typeof e.data === "string" ? utf8(e.data) : e.data;
    const name = utf8(e.path);
    const extra = e.extra ?? new Uint8Array(0);
    const crc = e.crc ?? crc32(data);
    const flags = (e.flags ?? 0) | (e.descriptor ? 8 : 0);
    const inHeader = (v: number) => (e.descriptor ? 0 : v);
    const header = le([
      [0x04034b50, 4], [20, 2], [flags, 2], [e.method ?? 0, 2], [0, 2], [0x5821, 2],
      [inHeader(crc), 4], [inHeader(e.compressedSize ?? data.length), 4], [inHeader(e.size ?? data.length), 4],
      [name.length, 2], [extra.length, 2],
    ]);
    const descriptor = e.descriptor ? le([[0x08074b50, 4], [crc, 4], [data.length, 4], [data.length, 4]]) : new Uint8Array(0);
    local.push(header, name, extra, data, descriptor);
    central.push(
      le([
        [0x02014b50, 4], [20, 2], [20, 2], [flags, 2], [e.method ?? 0, 2], [0, 2], [0x5821, 2],
        [crc, 4], [e.compressedSize ?? data.length, 4], [e.size ?? data.length, 4],
        [name.length, 2], [0, 2], [0, 2], [0, 2], [0, 2], [0, 4], [offset, 4],
      ]),
      name,
    );
    offset += header.length + name.length + extra.length + data.length + descriptor.length;
  }
  const cd = concat(central);
  const end = le([[0x06054b50, 4], [0, 2], [0, 2], [entries.length, 2], [entries.length, 2], [cd.length, 4], [offset, 4], [0, 2]]);
  return concat([...local, cd, end]);
}

// --- Fixtures.

const DIR = "demo-1.2.3/";
/** A deterministic pseudo-random source, so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}
const APP = (() => {
  const rnd = prng(7);
  return Uint8Array.from({ length: 5000 }, () => Math.floor(rnd() * 256));
})();
const MANIFEST = JSON.stringify({
  build_id: "20240101-000000/1.2.3",
  description: "démo ✓",
  parts: {
    app: { cs_sha1: "0".repeat(40), src: "demo.bin", type: "app", ptn: "app_0" },
    boot: { src: "bootloader.bin", type: "boot", update: false },
    fs: { src: "fs.img", type: "fs" },
  },
  platform: "esp32",
  version: "1.2.3",
});

function packageEntries(): TestEntry[] {
  return [
    { path: DIR + "manifest.json", data: MANIFEST },
    { path: DIR + "bootloader.bin", data: new Uint8Array(300).fill(0xb0) },
    { path: DIR + "demo.bin", data: APP },
    { path: DIR + "fs.img", data: new Uint8Array(1000).fill(0xf5) },
  ];
}

/** Python's zipfile (what mgos_fw_meta.py uses), ZIP_STORED: manifest, demo.bin (700 bytes), fs.img. */
const PYTHON_ZIP = Buffer.from(
  "UEsDBBQAAAAAABJRe13sqLTOSgEAAEoBAAAYAAAAZGVtby0xLjIuMy9tYW5pZmVzdC5qc29uewogICJidWlsZF9pZCI6ICIyMDI0MDEwMS0wMDAwMDAvMS4yLjMiLAogICJuYW1lIjogImRlbW8iLAogICJwYXJ0cyI6IHsKICAgICJhcHAiOiB7CiAgICAgICJjc19zaGExIjogIjBmYWYwN2I2N2E3N2E2ZjgxMTAzZTJhYWQ5ODE1NjJjNDJhNmJmNGMiLAogICAgICAicHRuIjogImFwcF8wIiwKICAgICAgInNyYyI6ICJkZW1vLmJpbiIsCiAgICAgICJ0eXBlIjogImFwcCIKICAgIH0sCiAgICAiZnMiOiB7CiAgICAgICJzcmMiOiAiZnMuaW1nIiwKICAgICAgInR5cGUiOiAiZnMiCiAgICB9CiAgfSwKICAicGxhdGZvcm0iOiAiZXNwMzIiLAogICJ2ZXJzaW9uIjogIjEuMi4zIgp9UEsDBBQAAAAAABJRe11PLcVnvAIAALwCAAATAAAAZGVtby0xLjIuMy9kZW1vLmJpbgMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt9PsCCRAXHiUsMzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+QAHDhUcIyoxOD9GTVRbYmlwd36FjJOaoaivtr3Ey9LZ4Ofu9fwDChEYHyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fj/Bg0UGyIpMDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J5gIeOlZyjqrG4v8bN1Nvi6fD3/gUMExohKC82PURLUllgZ251fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNPa4ejv9v0ECxIZICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vkABw4VHCMqMTg/Rk1UW2JpcHd+hYyTmqGor7a9xMvS2eDn7vX8AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4FDBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oBCA8WHSQrMjlAR05VXGNqcXh/ho2Um6KpsLe+xczT2uHo7/b9BAsSGSBQSwMEFAAAAAAAElF7Xf29T9VkAAAAZAAAABEAAABkZW1vLTEuMi4zL2ZzLmltZ0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdGU0lNR0ZTSU1HRlNJTUdQSwECFAMUAAAAAAASUXtd7Ki0zkoBAABKAQAAGAAAAAAAAAAAAAAAgAEAAAAAZGVtby0xLjIuMy9tYW5pZmVzdC5qc29uUEsBAhQDFAAAAAAAElF7XU8txWe8AgAAvAIAABMAAAAAAAAAAAAAAIABgAEAAGRlbW8tMS4yLjMvZGVtby5iaW5QSwECFAMUAAAAAAASUXtd/b1P1WQAAABkAAAAEQAAAAAAAAAAAAAAgAFtBAAAZGVtby0xLjIuMy9mcy5pbWdQSwUGAAAAAAMAAwDGAAAAAAUAAAAA",
  "base64",
);

/** Info-ZIP writing to a pipe (`zip -0 - ... | cat`): STORED, bit 3 set, CRC 0 in the local header, sizes present. */
const INFOZIP_STREAMED_ZIP = Buffer.from(
  "UEsDBAoACAAAABRRe10AAAAAFAAAABQAAAAWAAAAZGVtby0xLjAvbWFuaWZlc3QuanNvbnsicGxhdGZvcm0iOiJlc3AzMiJ9UEsHCD4BHTAUAAAAFAAAAFBLAwQKAAgAAAAUUXtdAAAAAAkAAAAJAAAAEAAAAGRlbW8tMS4wL2FwcC5iaW5oZWxsbyBhcHBQSwcIApbmJwkAAAAJAAAAUEsBAh4DCgAIAAAAFFF7XT4BHTAUAAAAFAAAABYAAAAAAAAAAAAAAKSBAAAAAGRlbW8tMS4wL21hbmlmZXN0Lmpzb25QSwECHgMKAAgAAAAUUXtdApbmJwkAAAAJAAAAEAAAAAAAAAAAAAAApIFYAAAAZGVtby0xLjAvYXBwLmJpblBLBQYAAAAAAgACAIIAAACfAAAAAAA=",
  "base64",
);

// --- A sink that records what it is told.

class Recorder implements ZipSink {
  readonly events: string[] = [];
  readonly data = new Map<string, Uint8Array[]>();
  manifest: Uint8Array | undefined;
  manifestExtra: Uint8Array | undefined;
  ended = false;
  constructor(readonly decide: (entry: ZipEntry) => EntryAction = () => "process") {}

  onManifest(bytes: Uint8Array, entry: ZipEntry, extra: Uint8Array): void {
    this.manifest = bytes;
    this.manifestExtra = extra;
    this.events.push(`manifest ${entry.path} ${entry.size}`);
  }
  onEntry(entry: ZipEntry): EntryAction {
    const action = this.decide(entry);
    this.events.push(`entry ${entry.name} ${entry.size} ${action}`);
    if (action === "process") this.data.set(entry.name, []);
    return action;
  }
  onData(bytes: Uint8Array, entry: ZipEntry): void {
    // Keep a copy: the view is only valid during the call.
    this.data.get(entry.name)!.push(bytes.slice());
  }
  onEntryEnd(entry: ZipEntry): void {
    this.events.push(`end ${entry.name}`);
  }
  onEnd(): void {
    this.ended = true;
    this.events.push("done");
  }
  bytesOf(name: string): Uint8Array {
    return concat(this.data.get(name) ?? []);
  }
}

function feed(reader: ZipStreamReader, zip: Uint8Array, sizes: () => number): void {
  for (let at = 0; at < zip.length; ) {
    const n = Math.max(1, sizes());
    reader.push(zip.subarray(at, at + n));
    at += n;
  }
}

/** Pushes the whole zip and returns the error it was refused with. */
function refusal(zip: Uint8Array, sink: ZipSink = new Recorder()): UpdateError {
  const reader = new ZipStreamReader(sink, crc32);
  let error: unknown;
  try {
    reader.push(zip);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof UpdateError, `expected an UpdateError, got ${String(error)}`);
  assert.equal(reader.error, error);
  assert.equal(reader.isComplete, false);
  return error;
}

function assertRefused(error: UpdateError, code: number, message: string): void {
  assert.equal(error.code, code);
  assert.equal(error.message, message);
}

const skipAllBut = (src: string) => (entry: ZipEntry): EntryAction => (entry.name === src ? "process" : "skip");

describe("ZipStreamReader", () => {
  describe("a package as mos writes it", () => {
    const zip = makeZip(packageEntries());
    const expected = [
      `manifest ${DIR}manifest.json ${utf8(MANIFEST).length}`,
      "entry bootloader.bin 300 skip",
      "entry demo.bin 5000 process",
      "end demo.bin",
      "entry fs.img 1000 skip",
      "done",
    ];

    function readWith(sizes: () => number) {
      const sink = new Recorder(skipAllBut("demo.bin"));
      const reader = new ZipStreamReader(sink, crc32);
      feed(reader, zip, sizes);
      return { sink, reader };
    }

    it("delivers the manifest whole, the processed entry's data, and the end, in one push", () => {
      const { sink, reader } = readWith(() => zip.length);
      assert.deepEqual(sink.events, expected);
      assert.equal(decodeUtf8(sink.manifest!), MANIFEST);
      assert.deepEqual(sink.bytesOf("demo.bin"), APP);
      assert.equal(reader.isComplete, true);
      assert.equal(reader.error, undefined);
      assert.equal(reader.bytesConsumed, zip.length);
    });

    it("gives the same result one byte at a time", () => {
      const { sink, reader } = readWith(() => 1);
      assert.deepEqual(sink.events, expected);
      assert.deepEqual(sink.bytesOf("demo.bin"), APP);
      assert.equal(reader.isComplete, true);
      assert.equal(reader.bytesConsumed, zip.length);
    });

    it("gives the same result for random chunkings (including mos's 512-byte writes)", () => {
      for (let seed = 1; seed <= 50; seed++) {
        const rnd = prng(seed);
        const max = [3, 31, 64, 700, 2048][seed % 5]!;
        const { sink, reader } = readWith(() => Math.floor(rnd() * max));
        assert.deepEqual(sink.events, expected, `seed ${seed}`);
        assert.deepEqual(sink.bytesOf("demo.bin"), APP, `seed ${seed}`);
        assert.equal(reader.isComplete, true);
      }
      const { sink } = readWith(() => 512);
      assert.deepEqual(sink.bytesOf("demo.bin"), APP);
    });

    it("passes data on as views of the pushed chunks and computes CRCs only through the injected function", () => {
      const seen: Uint8Array[] = [];
      let crcBytes = 0;
      const chunks: ArrayBufferLike[] = [];
      const sink = new Recorder(skipAllBut("demo.bin"));
      sink.onData = (bytes) => void seen.push(bytes);
      const reader = new ZipStreamReader(sink, (bytes, seed) => {
        crcBytes += bytes.length;
        return crc32(bytes, seed);
      });
      for (let at = 0; at < zip.length; at += 512) {
        const chunk = zip.slice(at, at + 512); // a fresh buffer per chunk, as OTA.Write decodes them
        chunks.push(chunk.buffer);
        reader.push(chunk);
      }
      assert.ok(seen.length > 1);
      for (const view of seen) assert.ok(chunks.includes(view.buffer), "data must not be copied");
      // Manifest and the processed entry are checked; skipped entries cost nothing.
      assert.equal(crcBytes, utf8(MANIFEST).length + APP.length);
    });

    it("reads an archive written by Python's zipfile (mgos_fw_meta.py)", () => {
      const sink = new Recorder();
      const reader = new ZipStreamReader(sink, crc32);
      feed(reader, new Uint8Array(PYTHON_ZIP), () => 100);
      assert.deepEqual(sink.events, [
        "manifest demo-1.2.3/manifest.json 330",
        "entry demo.bin 700 process",
        "end demo.bin",
        "entry fs.img 100 process",
        "end fs.img",
        "done",
      ]);
      assert.equal(crc32(sink.bytesOf("demo.bin")), 1740975439);
      assert.equal(planUpdate(sink.manifest!).app.sha1, "0faf07b67a77a6f81103e2aad981562c42a6bf4c");
      assert.equal(reader.bytesConsumed, PYTHON_ZIP.length);
    });
  });

  describe("entries", () => {
    it("skips extra fields, and hands the manifest's extra field (signatures) to the sink", () => {
      const signature = utf8('{"sig0":"c2ln"}');
      const extra = concat([le([[0x293a, 2], [signature.length, 2]]), signature]);
      const sink = new Recorder();
      const reader = new ZipStreamReader(sink, crc32);
      feed(
        reader,
        makeZip([
          { path: DIR + "manifest.json", data: "{}", extra },
          { path: DIR + "a.bin", data: "abc", extra: new Uint8Array(40).fill(0x55) },
        ]),
        () => 1,
      );
      assert.deepEqual(sink.manifestExtra, extra);
      assert.equal(decodeUtf8(sink.bytesOf("a.bin")), "abc");
      assert.equal(reader.isComplete, true);
    });

    it("takes names without a directory as they are, and empty entries", () => {
      const sink = new Recorder();
      const reader = new ZipStreamReader(sink, crc32);
      reader.push(makeZip([{ path: "manifest.json", data: "{}" }, { path: "empty.bin", data: "" }]));
      assert.deepEqual(sink.events, ["manifest manifest.json 2", "entry empty.bin 0 process", "end empty.bin", "done"]);
    });

    it("strips only up to the first '/' and reports the entry's offset", () => {
      const offsets: number[] = [];
      const sink = new Recorder((entry) => (offsets.push(entry.offset), "skip"));
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "sub/x.bin", data: "x" }]);
      new ZipStreamReader(sink, crc32).push(zip);
      assert.deepEqual(sink.events.slice(1, 2), ["entry sub/x.bin 1 skip"]);
      assert.deepEqual(offsets, [30 + (DIR + "manifest.json").length + 2]);
    });

    it("accepts a name of 49 bytes after the directory, and refuses 50", () => {
      const ok = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "n".repeat(49), data: "x" }]);
      new ZipStreamReader(new Recorder(), crc32).push(ok);
      const long = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "n".repeat(50), data: "x" }]);
      assertRefused(refusal(long), -22, `Too long file name: ${DIR}${"n".repeat(50)}`);
    });

    it("refuses a path longer than 255 bytes before reading it", () => {
      const zip = makeZip([{ path: "d".repeat(300) + "/manifest.json", data: "{}" }]);
      const reader = new ZipStreamReader(new Recorder(), crc32);
      assert.throws(() => reader.push(zip.subarray(0, 30)), { code: -22, message: "Too long file name: 314 bytes" });
    });

    it("decodes UTF-8 names", () => {
      const sink = new Recorder();
      new ZipStreamReader(sink, crc32).push(makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "größe.bin", data: "x" }]));
      assert.equal(sink.events[1], "entry größe.bin 1 process");
    });
  });

  describe("refusals", () => {
    it("manifest.json not first", () => {
      const zip = makeZip([{ path: DIR + "demo.bin", data: APP }, { path: DIR + "manifest.json", data: MANIFEST }]);
      const sink = new Recorder();
      assertRefused(refusal(zip, sink), -25, `Malformed archive (manifest.json must be the first file): found ${DIR}demo.bin`);
      assert.deepEqual(sink.events, []);
    });

    it("an archive without files", () => {
      assertRefused(refusal(makeZip([])), -25, "Malformed archive (manifest.json must be the first file): the archive has no files");
    });

    it("something that is not a zip", () => {
      assertRefused(refusal(utf8("<html>Not Found</html>")), -4, "Malformed archive (invalid file header): signature 0x6d74683c at offset 0");
    });

    it("a bad header after the first entry, with its offset", () => {
      const zip = makeZip(packageEntries());
      const manifestEnd = 30 + (DIR + "manifest.json").length + utf8(MANIFEST).length;
      zip[manifestEnd] = 0x51;
      assertRefused(refusal(zip), -4, `Malformed archive (invalid file header): signature 0x04034b51 at offset ${manifestEnd}`);
    });

    it("a compressed entry", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "demo.bin", data: "zz", method: 8 }]);
      assertRefused(refusal(zip), -20, "Cannot handle compressed .zip: method 8");
    });

    it("a data-descriptor zip as Go's archive/zip writes it (bit 3, zero CRC and sizes)", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: MANIFEST, descriptor: true }]);
      const sink = new Recorder();
      assertRefused(
        refusal(zip, sink),
        -24,
        "Cannot handle .zip with data descriptors: CRC and sizes must be in the local header (build the package with mos)",
      );
      assert.deepEqual(sink.events, []);
    });

    it("a data-descriptor zip as Info-ZIP writes to a pipe (bit 3, sizes present)", () => {
      assert.equal(refusal(new Uint8Array(INFOZIP_STREAMED_ZIP)).code, -24);
    });

    it("a stored entry whose sizes disagree", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "demo.bin", data: "abc", compressedSize: 3, size: 4 }]);
      assertRefused(refusal(zip), -21, "Malformed archive: stored entry of 3 bytes claims 4");
    });

    it("a ZIP64 entry", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "demo.bin", data: "abc", compressedSize: 0xffffffff, size: 0xffffffff }]);
      assertRefused(refusal(zip), -21, "Malformed archive: ZIP64 entries are not supported");
    });

    it("a CRC mismatch in a processed entry, before its end is reported", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "demo.bin", data: APP, crc: 0x12345678 }]);
      const sink = new Recorder();
      const actual = crc32(APP).toString(16).padStart(8, "0");
      assertRefused(refusal(zip, sink), -23, `Invalid CRC: ${DIR}demo.bin: computed ${actual}, header says 12345678`);
      assert.deepEqual(sink.events, [`manifest ${DIR}manifest.json 2`, "entry demo.bin 5000 process"]);
    });

    it("a CRC mismatch in the manifest, before the manifest is handed on", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}", crc: 1 }]);
      const sink = new Recorder();
      assert.equal(refusal(zip, sink).code, -23);
      assert.equal(sink.manifest, undefined);
    });

    it("a CRC mismatch in a skipped entry is not looked for", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "fs.img", data: "x", crc: 1 }]);
      const reader = new ZipStreamReader(new Recorder(() => "skip"), crc32);
      reader.push(zip);
      assert.equal(reader.isComplete, true);
    });

    it("a manifest over 16 KB, from its header, before any of it is read", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: " ".repeat(16 * 1024 + 1) }]);
      const reader = new ZipStreamReader(new Recorder(), crc32);
      assert.throws(() => reader.push(zip.subarray(0, 30 + (DIR + "manifest.json").length)), {
        code: -30,
        message: "Manifest is too big: 16385 bytes, at most 16384",
      });
      const fits = makeZip([{ path: DIR + "manifest.json", data: " ".repeat(16 * 1024) }]);
      new ZipStreamReader(new Recorder(), crc32).push(fits);
    });

    it("a manifest whose extra field is over 4 KB", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}", extra: new Uint8Array(5000) }]);
      assertRefused(refusal(zip), -30, "Manifest is too big: extra field of 5000 bytes, at most 4096");
    });
  });

  describe("failure and completion", () => {
    it("stays failed: every later push throws the same error", () => {
      const reader = new ZipStreamReader(new Recorder(), crc32);
      let first: unknown;
      try {
        reader.push(utf8("garbage!"));
      } catch (e) {
        first = e;
      }
      assert.ok(first instanceof UpdateError);
      const before = reader.bytesConsumed;
      for (const chunk of [makeZip(packageEntries()), new Uint8Array(0)]) {
        assert.throws(() => reader.push(chunk), (e) => e === first);
      }
      assert.equal(reader.bytesConsumed, before);
    });

    it("fails with the error a sink throws (the manifest check refusing a package)", () => {
      const zip = makeZip([{ path: DIR + "manifest.json", data: MANIFEST.replace('"esp32"', '"esp8266"') }]);
      const sink = new Recorder();
      sink.onManifest = (bytes) => void planUpdate(bytes);
      assertRefused(refusal(zip, sink), -5, "Wrong platform: package is for esp8266, this device is esp32");
    });

    it("wraps anything else a sink throws as -12 Update failed", () => {
      const sink = new Recorder();
      sink.onData = () => {
        throw new Error("esp_ota_write: ESP_ERR_FLASH_OP_FAIL");
      };
      const zip = makeZip([{ path: DIR + "manifest.json", data: "{}" }, { path: DIR + "demo.bin", data: "x" }]);
      assertRefused(refusal(zip, sink), -12, "Update failed: esp_ota_write: ESP_ERR_FLASH_OP_FAIL");
    });

    it("a truncated stream never completes, so the caller can report -14", () => {
      const zip = makeZip(packageEntries());
      const cdStart = zip.length - 22 - packageEntries().reduce((n, e) => n + 46 + utf8(e.path).length, 0);
      for (const cut of [10, 1000, cdStart - 1, cdStart, cdStart + 3]) {
        const sink = new Recorder(skipAllBut("demo.bin"));
        const reader = new ZipStreamReader(sink, crc32);
        reader.push(zip.subarray(0, cut));
        assert.equal(reader.isComplete, false, `cut at ${cut}`);
        assert.equal(sink.ended, false);
        assert.equal(reader.error, undefined);
        assert.equal(reader.bytesConsumed, cut);
      }
      const reader = new ZipStreamReader(new Recorder(), crc32);
      reader.push(zip.subarray(0, cdStart + 4));
      assert.equal(reader.isComplete, true, "the central directory signature alone completes the archive");
    });

    it("ignores what follows the central directory", () => {
      const sink = new Recorder();
      const reader = new ZipStreamReader(sink, crc32);
      const zip = makeZip(packageEntries());
      reader.push(zip);
      reader.push(utf8("trailing junk"));
      assert.equal(reader.isComplete, true);
      assert.equal(reader.bytesConsumed, zip.length + 13);
      assert.equal(sink.events.filter((e) => e === "done").length, 1);
    });
  });
});
