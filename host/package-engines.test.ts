// package.json's "engines" is a promise to users: every Node it admits runs
// `npm ci` without EBADENGINE (each locked package accepts all of it), and
// our own code's needs are inside it (zlib.crc32 came in Node 20.15).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8"));

describe("package.json engines", () => {
  const ours: string = readJson("package.json").engines.node;

  it("admit only Node versions that every locked package accepts", () => {
    const packages = readJson("package-lock.json").packages as Record<string, { engines?: { node?: string } }>;
    const refusing = Object.entries(packages)
      .filter(([, p]) => typeof p.engines?.node === "string" && !semver.subset(ours, p.engines.node))
      .map(([name, p]) => `${name} wants ${p.engines!.node}`);
    assert.deepEqual(refusing, [], `engines "${ours}" admits versions these packages refuse`);
  });

  it("start at Node 20.15, where zlib.crc32 (the fw.zip CRCs) came in", () => {
    assert.equal(semver.minVersion(ours)?.version, "20.15.0");
  });

  it("admit the Node running these tests", () => {
    assert.ok(semver.satisfies(process.versions.node, ours), `Node ${process.versions.node} is outside "${ours}"`);
  });
});
