import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildId } from "sys/identity";
import { readFwZip } from "../fwpack/fw-zip.ts";
import { DEFAULT_MANIFEST, FAULTY_MAIN, buildFirmwarePackage } from "./firmware-package.ts";
import { buildFirmwareImage } from "./firmware.ts";

const builtAt = new Date("2026-03-04T05:06:07Z");

describe("firmware package for the virtual board", () => {
  let out: string;
  before(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-pkg-"))));
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it("wraps exactly the image buildFirmwareImage builds, with the build id the firmware will report", async () => {
    const pkg = await buildFirmwarePackage({ version: "2.0.0", builtAt, out });
    assert.deepEqual(pkg.app, await buildFirmwareImage({ manifestPath: DEFAULT_MANIFEST, version: "2.0.0", builtAt }));
    const contents = readFwZip(pkg.zip);
    assert.equal(contents.manifest.build_id, "20260304-050607/2.0.0");
    assert.equal(contents.manifest.build_id, buildId("Mar  4 2026", "05:06:07", "2.0.0"));
    assert.equal(contents.manifest.build_timestamp, "2026-03-04T05:06:07Z");
    assert.deepEqual(pkg.files, { zip: path.join(out, "fw.zip"), app: path.join(out, "app.bin") });
    assert.deepEqual(fs.readFileSync(pkg.files!.zip), pkg.zip);
    assert.deepEqual(fs.readFileSync(pkg.files!.app), pkg.app);
  });

  it("replaces main with a faulty one and keeps every other module", async () => {
    const normal = readFwZip((await buildFirmwarePackage({ version: "2.0.0", builtAt })).zip).parts[0]!.app!.modules!;
    const pkg = await buildFirmwarePackage({ version: "2.0.1", builtAt, firmwareOverride: [["main", FAULTY_MAIN["crash-at-start"]]] });
    const modules = readFwZip(pkg.zip).parts[0]!.app!.modules!;
    assert.equal(modules.get("main"), FAULTY_MAIN["crash-at-start"]);
    assert.notEqual(normal.get("main"), modules.get("main"));
    assert.deepEqual([...modules.keys()], [...normal.keys()]);
    for (const [name, source] of normal) if (name !== "main") assert.equal(modules.get(name), source, name);
    const hang = await buildFirmwarePackage({ version: "2.0.2", builtAt, firmwareOverride: [["main", FAULTY_MAIN.hang]] });
    assert.equal(readFwZip(hang.zip).parts[0]!.app!.modules!.get("main"), "for (;;) {}\n");
  });

  it("refuses a replacement that imports what no module provides", async () => {
    await assert.rejects(
      buildFirmwarePackage({ version: "2.0.3", builtAt, firmwareOverride: [["main", 'import x from "no/such";\n']] }),
      /FirmwareBuildError: module "main" imports "no\/such", which manifest.json does not map for platform vboard/,
    );
  });
});
