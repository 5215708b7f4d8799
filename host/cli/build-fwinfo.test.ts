// xs-ota build and xs-ota fwinfo as a user runs them: real child processes,
// real files in a temporary directory.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../../test/run-cli.ts";
import { encodeFwManifest } from "../fwpack/fw-manifest.ts";
import { readFwZip } from "../fwpack/fw-zip.ts";
import { writeStoredZip } from "../fwpack/stored-zip-writer.ts";

// 2026-03-04T05:06:07Z, so build ids are known in advance.
const EPOCH = { SOURCE_DATE_EPOCH: "1772600767" };
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Bytes with no structure; deterministic, so a failure can be replayed. */
function noise(length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 64 < length; i++) blocks.push(createHash("sha512").update(`noise ${i}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

describe("xs-ota build and fwinfo", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-cli-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = (name: string) => path.join(dir, name);

  describe("build", () => {
    it("builds two versions, printing each file with its size and sha256, version and build_id", async () => {
      for (const version of ["1.0.0", "1.1.0"]) {
        const r = await runCli(["build", "--board", "virtual", "--version", version, "--out", out(version)], EPOCH);
        assert.equal(r.stderr, "");
        assert.equal(r.code, 0);
        const zip = fs.readFileSync(out(`${version}/fw.zip`));
        const app = fs.readFileSync(out(`${version}/app.bin`));
        assert.equal(
          r.stdout,
          `built xs-ota ${version} for the virtual board\n` +
            `  build_id  20260304-050607/${version}\n` +
            `  parts     pt, otadata, app\n` +
            `  wrote     ${out(`${version}/fw.zip`)}  ${zip.length} bytes  sha256 ${sha256(zip)}\n` +
            `  wrote     ${out(`${version}/app.bin`)}  ${app.length} bytes  sha256 ${sha256(app)}\n`,
        );
        const { manifest, parts } = readFwZip(zip);
        assert.equal(manifest.version, version);
        assert.deepEqual(parts[0]!.entry!.data, app);
      }
    });

    it("builds the same bytes again from the same sources, version and SOURCE_DATE_EPOCH", async () => {
      const r = await runCli(["build", "--version", "1.0.0", "--out", out("again")], EPOCH);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readFileSync(out("again/fw.zip")), fs.readFileSync(out("1.0.0/fw.zip")));
    });

    it("asks for the Moddable build to package for an ESP32, with exit 2", async () => {
      const r = await runCli(["build", "--board", "esp32", "--version", "1.0.0", "--out", out("esp32")]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: --board esp32 packages a Moddable build: give its ESP-IDF build directory with --moddable-out/);
      assert.equal(fs.existsSync(out("esp32")), false);
    });

    it("refuses a missing or unusable version with exit 2", async () => {
      const missing = await runCli(["build", "--out", out("x")]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^error: --version is required for the virtual board/);
      const spaced = await runCli(["build", "--version", "1 0", "--out", out("x")]);
      assert.equal(spaced.code, 2);
      assert.match(spaced.stderr, /a version is 1 to 31 printable ASCII characters/);
    });

    it("fails with exit 1 and a clear message when the firmware cannot be built", async () => {
      const r = await runCli(["build", "--version", "1.0.0", "--out", out("x"), "--manifest", out("none.json")]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `error: no manifest at ${out("none.json")}\n`);
    });
  });

  describe("fwinfo", () => {
    it("shows each package's manifest, its verified part and the image inside", async () => {
      for (const version of ["1.0.0", "1.1.0"]) {
        const r = await runCli(["fwinfo", out(`${version}/fw.zip`)]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        const text = r.stdout;
        assert.match(text, new RegExp(`^${out(`${version}/fw.zip`)}: fw\\.zip, \\d+ bytes, sha256 [0-9a-f]{64}\n`));
        assert.match(text, new RegExp(`\n  version +${version.replace(/\./g, "\\.")}\n`));
        assert.match(text, new RegExp(`\n  build_id +20260304-050607/${version}\n`));
        assert.match(text, /\npart app: type app, encrypt true, ptn ota_0, src xs-ota\.bin\n/);
        for (const check of ["size", "cs_sha1", "cs_sha256", "app image", "version", "build_id"]) assert.match(text, new RegExp(`\n  ✓ ${check} `));
        assert.doesNotMatch(text, /✗/);
        assert.match(text, /\n    header +VIRTUAL_BOARD \(chip id 16982\), 2 segments, DIO 40 MHz 4 MB/);
        assert.match(text, new RegExp(`\n    app desc +xs-ota ${version.replace(/\./g, "\\.")}, built Mar  4 2026 05:06:07, IDF v5\\.5\\.1`));
        assert.match(text, /\n    modules \(\d+, \d+ bytes of source\):\n      main +\d+\n/);
      }
    });

    it("prints the findings as JSON with --json", async () => {
      const r = await runCli(["fwinfo", "--json", out("1.1.0/fw.zip")]);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      assert.equal(info.kind, "fw.zip");
      assert.equal(info.manifest.version, "1.1.0");
      assert.deepEqual(info.failures, []);
      assert.equal(info.parts[0].image.fwId, info.manifest.build_id);
      assert.ok(info.parts[0].checks.every((c: { ok: boolean }) => c.ok));
      assert.ok(info.parts[0].image.modules.some((m: { name: string }) => m.name === "main"));
    });

    it("shows a bare app image", async () => {
      const r = await runCli(["fwinfo", out("1.0.0/app.bin")]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /: ESP-IDF app image, \d+ bytes/);
      assert.match(r.stdout, /\n  checksum +✓ 0x[0-9A-F]{2}\n  SHA-256 +✓ [0-9a-f]{64} \(appended\)\n/);
      assert.match(r.stdout, /\n  fw_id +20260304-050607\/1\.0\.0\n/);
    });

    it("refuses a truncated zip with exit 1, saying where it ends", async () => {
      const zip = fs.readFileSync(out("1.0.0/fw.zip"));
      fs.writeFileSync(out("cut.zip"), zip.subarray(0, zip.length >> 1));
      const r = await runCli(["fwinfo", out("cut.zip")]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, new RegExp(`^error: ${out("cut.zip")}: truncated zip: the data of "xs-ota-1\\.0\\.0/xs-ota\\.bin" at offset 0x[0-9A-F]+ needs \\d+ bytes, the file ends at 0x[0-9A-F]+\n$`));
    });

    it("refuses random bytes with exit 1", async () => {
      const bytes = noise(4096);
      assert.ok(bytes[0] !== 0xe9 && bytes[0] !== 0x50, "the noise must not look like either kind");
      fs.writeFileSync(out("noise.bin"), bytes);
      const r = await runCli(["fwinfo", out("noise.bin")]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /: not a fw\.zip \(50 4b 03 04\) nor an ESP-IDF app image \(e9\): it starts with [0-9a-f]{2} /);
    });

    it("shows a wrong digest as ✗ and exits 1", async () => {
      const { manifest, parts } = readFwZip(fs.readFileSync(out("1.0.0/fw.zip")));
      const app = parts[0]!.entry!;
      const lying = { ...manifest, parts: { app: { ...manifest.parts.app, cs_sha256: "0".repeat(64) } } };
      const zip = writeStoredZip([{ name: "xs-ota-1.0.0/manifest.json", data: encodeFwManifest(lying) }, { name: app.name, data: app.data }], { modified: new Date() });
      fs.writeFileSync(out("lying.zip"), zip);
      const r = await runCli(["fwinfo", out("lying.zip")]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`\n  ✗ cs_sha256 +manifest 0{64}, actual ${sha256(app.data)}\n`));
      assert.match(r.stdout, /\n  ✓ cs_sha1 /);
      assert.match(r.stderr, /^error: .*lying\.zip: Digest mismatch: part "app" \(xs-ota\.bin\): cs_sha256/);
    });

    it("says when the file is not there", async () => {
      const r = await runCli(["fwinfo", out("absent.zip")]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `error: cannot read ${out("absent.zip")}: no such file\n`);
    });
  });
});
