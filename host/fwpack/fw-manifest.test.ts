import assert from "node:assert/strict";
import { decodeFwManifest, encodeFwManifest, type FwManifest } from "./fw-manifest.js";

const manifest: FwManifest = {
  name: "démo ☃",
  platform: "esp32",
  version: "1.0",
  build_id: "x",
  parts: { app: { type: "app", src: "a.bin", size: 3, cs_sha1: "ab" } },
  z: [1, { b: 1, a: 2 }],
  empty: {},
  emptyl: [],
  t: true,
  n: null,
  q: 'a"b\\\n\u007f',
};

// print(json.dumps(manifest, indent=2, sort_keys=True)) in Python 3, as mgos_fw_meta.py writes it.
const PYTHON_JSON =
  '{\n  "build_id": "x",\n  "empty": {},\n  "emptyl": [],\n  "n": null,\n  "name": "d\\u00e9mo \\u2603",\n  "parts": {\n    "app": {\n' +
  '      "cs_sha1": "ab",\n      "size": 3,\n      "src": "a.bin",\n      "type": "app"\n    }\n  },\n  "platform": "esp32",\n' +
  '  "q": "a\\"b\\\\\\n\\u007f",\n  "t": true,\n  "version": "1.0",\n  "z": [\n    1,\n    {\n      "a": 2,\n      "b": 1\n    }\n  ]\n}';

const good = { platform: "esp32", version: "1", build_id: "b", parts: {} };
const decode = (value: unknown) => () => decodeFwManifest(Buffer.from(JSON.stringify(value)));

describe("fw.zip manifest", () => {
  it("encodes as Python's json.dumps(indent=2, sort_keys=True): sorted at every level, ASCII only", () => {
    assert.equal(encodeFwManifest(manifest).toString("latin1"), PYTHON_JSON);
  });

  it("round-trips", () => {
    assert.deepEqual(decodeFwManifest(encodeFwManifest(manifest)), manifest);
  });

  it("refuses floats, which Python would print differently", () => {
    assert.throws(() => encodeFwManifest({ ...good, ratio: 0.5 }), /manifest value 0.5 is not an integer/);
  });

  it("requires platform, version, build_id and parts, as the device does", () => {
    for (const field of ["platform", "version", "build_id", "parts"]) {
      const without: Record<string, unknown> = { ...good };
      delete without[field];
      assert.throws(decode(without), new RegExp(`^FwZipError: Required manifest field missing: ${field}$`));
    }
    assert.throws(decode({ ...good, version: 2 }), /Required manifest field missing: version must be a string, not 2/);
    assert.throws(decode({ ...good, parts: [] }), /Required manifest field missing: parts must be an object, not \[\]/);
  });

  it("says when the manifest is not JSON, or not an object", () => {
    assert.throws(() => decodeFwManifest(Buffer.from("{nope")), /^FwZipError: Failed to parse manifest: /);
    assert.throws(() => decodeFwManifest(Buffer.from([0x7b, 0xff, 0x7d])), /Failed to parse manifest/);
    assert.throws(decode([good]), /Failed to parse manifest: it is not a JSON object/);
  });

  it("checks the part attributes it relies on", () => {
    assert.throws(decode({ ...good, parts: { app: 1 } }), /manifest part "app" is not an object/);
    assert.throws(decode({ ...good, parts: { fs: { src: { "a.txt": {} } } } }), /part "fs": src must be a file name; directory parts are not supported/);
    assert.throws(decode({ ...good, parts: { app: { size: -1 } } }), /part "app": size must be a non-negative integer, not -1/);
    assert.throws(decode({ ...good, parts: { app: { cs_sha1: "xyz" } } }), /part "app": cs_sha1 must be hex digits/);
  });
});
