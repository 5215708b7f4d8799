import assert from "node:assert/strict";
import { useNameCheck } from "sys/names";
import { planUpdate } from "ota/fw-manifest";
import { UpdateError } from "ota/update-error";
import { configureLog } from "sys/log";

const SHA1 = "0faf07b67a77a6f81103e2aad981562c42a6bf4c";
const SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/** The ESP32 parts of a mos-built package (spec/mos-rpc.md §3.2), keys sorted as mgos_fw_meta.py writes them. */
function mosManifest(): Record<string, unknown> {
  return {
    build_id: "20190127-050931/2.0.0-gc2393b3-master",
    build_timestamp: "2019-01-27T05:09:31Z",
    description: "Grüße aus dem Labor ✓",
    name: "demo",
    parts: {
      app: { cs_sha1: SHA1, cs_sha256: SHA256, encrypt: true, ptn: "app_0", size: 912384, src: "demo.bin", type: "app" },
      boot: { addr: 4096, cs_sha1: SHA1, encrypt: true, src: "bootloader.bin", type: "boot", update: false },
      fs: { cs_sha1: SHA1, fs_size: 262144, ptn: "fs_0", src: "fs.img", type: "fs" },
      nvs: { encrypt: false, fill: 255, ptn: "nvs", size: 16384, type: "nvs" },
      otadata: { cs_sha1: SHA1, encrypt: true, ptn: "otadata", src: "otadata.bin", type: "otadata" },
      pt: { addr: 32768, cs_sha1: SHA1, encrypt: true, src: "partition-table.bin", type: "pt" },
    },
    platform: "esp32",
    version: "2.0.0",
  };
}

const text = (m: unknown) => JSON.stringify(m, null, 2);
const bytes = (m: unknown) => new TextEncoder().encode(text(m));

function withApp(app: Record<string, unknown>): Record<string, unknown> {
  const m = mosManifest();
  (m.parts as Record<string, unknown>).app = app;
  return m;
}

function refused(manifest: Uint8Array | string, code: number, message: string): void {
  assert.throws(
    () => planUpdate(manifest),
    (e: unknown) => {
      assert.ok(e instanceof UpdateError);
      assert.equal(e.code, code);
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe("planUpdate (fw.zip manifest)", () => {
  let lines: string[] = [];
  beforeEach(() => {
    lines = [];
    configureLog((line) => lines.push(line), () => 0);
  });
  afterEach(() => configureLog(() => {}, () => 0));

  it("plans the app for the inactive slot and skips every other part of a mos package, logging why", () => {
    assert.deepEqual(planUpdate(bytes(mosManifest())), {
      platform: "esp32",
      version: "2.0.0",
      buildId: "20190127-050931/2.0.0-gc2393b3-master",
      app: { src: "demo.bin", size: 912384, sha1: SHA1, sha256: SHA256 },
      skipped: ["boot", "fs", "nvs", "otadata", "pt"],
    });
    assert.deepEqual(lines, [
      "I (0) ota: package part boot skipped: bootloader not marked for update\n",
      "I (0) ota: package part fs skipped: this board has no fs partition\n",
      "I (0) ota: package part nvs skipped: not written over the air\n",
      "I (0) ota: package part otadata skipped: not written over the air\n",
      "I (0) ota: package part pt skipped: not written over the air\n",
    ]);
  });

  it("takes the manifest as text too, and ignores unknown parts and attributes", () => {
    const m = mosManifest();
    (m.parts as Record<string, unknown>).extra_blob = { src: "blob.bin", type: "whatever", frobnicate: 1 };
    const plan = planUpdate(text(m));
    assert.deepEqual(plan.skipped, ["boot", "fs", "nvs", "otadata", "pt", "extra_blob"]);
  });

  it("compares the platform case-insensitively", () => {
    assert.equal(planUpdate(text({ ...mosManifest(), platform: "ESP32" })).platform, "ESP32");
    assert.equal(planUpdate(text({ ...mosManifest(), platform: "esp32c3" }), "ESP32C3").platform, "esp32c3");
  });

  it("refuses another platform's package", () => {
    refused(text({ ...mosManifest(), platform: "esp8266" }), -5, "Wrong platform: package is for esp8266, this device is esp32");
  });

  describe("required fields", () => {
    for (const field of ["platform", "version", "build_id", "parts"]) {
      it(`refuses a manifest without ${field}`, () => {
        const m = mosManifest();
        delete m[field];
        refused(text(m), -32, `Required manifest field missing: ${field}`);
      });
    }
    it("names every missing field, and counts empty strings and null as missing", () => {
      refused(text({ platform: "esp32", version: "", build_id: null }), -32, "Required manifest field missing: version, build_id, parts");
    });
    it("refuses fields of the wrong type", () => {
      refused(text({ ...mosManifest(), version: 2 }), -33, "Invalid manifest: version must be a string");
      refused(text({ ...mosManifest(), parts: ["app"] }), -33, "Invalid manifest: parts must be an object");
      refused(text({ ...mosManifest(), parts: { app: "demo.bin" } }), -33, "Invalid manifest: parts.app must be an object");
    });
  });

  it("refuses text that is not a JSON object", () => {
    for (const bad of ["{\"platform\":", "[1,2]", "null", ""]) {
      assert.throws(() => planUpdate(bad), (e: unknown) => e instanceof UpdateError && e.code === -31 && e.reason === "Failed to parse manifest");
    }
    refused("[1,2]", -31, "Failed to parse manifest: not a JSON object");
  });

  it("refuses a manifest over 16 KB, and takes one of exactly 16 KB", () => {
    const base = text(mosManifest());
    const padded = (n: number) => base.replace(/}\s*$/, " ".repeat(n - base.length) + "}");
    assert.equal(planUpdate(padded(16 * 1024)).version, "2.0.0");
    refused(padded(16 * 1024 + 1), -30, "Manifest is too big: 16385 bytes, at most 16384");
  });

  it("refuses more than 32 parts before looking at any, and takes 32", () => {
    const withParts = (n: number) => {
      const m = mosManifest();
      const parts = m.parts as Record<string, unknown>;
      for (let i = Object.keys(parts).length; i < n; i++) parts[`p${i}`] = { src: `p${i}.bin`, size: i };
      return text(m);
    };
    assert.equal(planUpdate(withParts(32)).skipped.length, 31);
    refused(withParts(40), -33, "Invalid manifest: parts lists 40 parts, at most 32");
    // Parts whose names the board does not hold count and are skipped the same.
    useNameCheck((name) => !/^p\d+$/.test(name));
    try {
      assert.equal(planUpdate(withParts(32)).skipped.length, 31);
      refused(withParts(40), -33, "Invalid manifest: parts lists 40 parts, at most 32");
    } finally {
      useNameCheck(() => true);
    }
  });

  it("holds a manifest to 256 values and 8 levels, fewer than a frame: each costs heap", () => {
    const m = mosManifest();
    (m as Record<string, unknown>).extra = Array.from({ length: 300 }, () => 0);
    refused(text(m), -31, "Failed to parse manifest: manifest has more than 256 values");
  });

  it("refuses a package that asks for a bootloader update", () => {
    const m = mosManifest();
    (m.parts as Record<string, Record<string, unknown>>).boot!.update = true;
    refused(text(m), -35, "Bootloader update is not supported: the package sets parts.boot.update; build it without the bootloader update");
    (m.parts as Record<string, Record<string, unknown>>).boot!.update = "true";
    assert.throws(() => planUpdate(text(m)), { code: -35 });
  });

  it("refuses a package without an app part (fs only)", () => {
    const m = mosManifest();
    m.parts = { fs: { src: "fs.img", type: "fs", cs_sha1: SHA1 } };
    refused(text(m), -34, "Incomplete update package: no app part");
  });

  describe("the app part", () => {
    it("needs a src", () => {
      refused(text(withApp({ cs_sha1: SHA1 })), -32, "Required manifest field missing: parts.app.src");
      refused(text(withApp({ src: 7, cs_sha1: SHA1 })), -33, "Invalid manifest: parts.app.src must be a file name");
    });
    it("needs at least one digest", () => {
      refused(text(withApp({ src: "demo.bin" })), -32, "Required manifest field missing: parts.app.cs_sha1 or parts.app.cs_sha256");
    });
    it("takes either digest alone, lower-casing hex", () => {
      assert.deepEqual(planUpdate(text(withApp({ src: "demo.bin", cs_sha256: SHA256.toUpperCase() }))).app, {
        src: "demo.bin",
        size: undefined,
        sha1: undefined,
        sha256: SHA256,
      });
      assert.equal(planUpdate(text(withApp({ src: "demo.bin", cs_sha1: SHA1 }))).app.sha1, SHA1);
    });
    it("refuses a digest that is not hex of the right length", () => {
      refused(text(withApp({ src: "demo.bin", cs_sha1: SHA1.slice(1) })), -33, "Invalid manifest: parts.app.cs_sha1 must be 40 hex digits");
      refused(text(withApp({ src: "demo.bin", cs_sha1: SHA1, cs_sha256: "x".repeat(64) })), -33, "Invalid manifest: parts.app.cs_sha256 must be 64 hex digits");
    });
    it("refuses a size that is not a byte count", () => {
      for (const size of [-1, 1.5, "1000"]) {
        refused(text(withApp({ src: "demo.bin", cs_sha1: SHA1, size })), -33, "Invalid manifest: parts.app.size must be a byte count");
      }
    });
  });
});
