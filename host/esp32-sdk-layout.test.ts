// The ESP32 build against the real SDK layout, without the SDK: the lists in
// host/esp32/ were written from Moddable 7.2.1 and ESP-IDF v5.5.1 (docs/esp32.md,
// "Checked with the real tools"). A manifest path Moddable does not have, or an
// include its module include path does not resolve, fails here instead of
// deep in mcconfig or the ESP-IDF build.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  INCLUDE_NAMES,
  MODDABLE_LAYOUT,
  NATIVE_SOURCES,
  ROOT,
  includesOf,
  moddablePaths,
  projectManifests,
  readIncludeNames,
  readList,
} from "./esp32/sdk-layout.ts";

const EMULATED_IDF = path.join(ROOT, "host/vboard/idf/include");

/** Quoted includes of a native source that are neither beside it nor on the list. */
function unresolved(source: string, names: ReadonlyMap<string, string>): string[] {
  return includesOf(source)
    .filter((i) => !i.angled && !fs.existsSync(path.join(path.dirname(source), i.name)) && !names.has(i.name))
    .map((i) => `${path.relative(ROOT, source)}:${i.line}: "${i.name}"`);
}

describe("the ESP32 build against Moddable SDK 7.2.1's layout", () => {
  const layout = new Set(readList(MODDABLE_LAYOUT));

  it("finds every $(MODDABLE) path the manifests name in Moddable 7.2.1", () => {
    const manifests = projectManifests();
    assert.ok(manifests.some((m) => m.endsWith(path.join("boards", "esp32", "manifest.json"))), "the board manifests are not read");
    const missing = manifests.flatMap((m) => moddablePaths(m).filter((p) => !layout.has(p)).map((p) => `${path.relative(ROOT, m)}: ${p}`));
    assert.deepEqual(missing, [], `not in Moddable 7.2.1 (${path.relative(ROOT, MODDABLE_LAYOUT)})`);
  });

  it("would refuse a path Moddable has never had: the timer manifest (timer comes with the esp32 device)", () => {
    assert.ok(layout.size > 0);
    assert.ok(!layout.has("$(MODDABLE)/modules/base/timer/manifest.json"));
  });
});

describe("the native module's includes against Moddable's ESP32 include path (ESP-IDF v5.5.1)", () => {
  const names = readIncludeNames();

  it("includes every header by a name Moddable's include path resolves, on esp32, esp32s3 and esp32c3", () => {
    assert.ok(names.size > 50, `${path.relative(ROOT, INCLUDE_NAMES)} is nearly empty`);
    assert.deepEqual(NATIVE_SOURCES.flatMap((s) => unresolved(s, names)), []);
  });

  it("would refuse the bare names of headers whose component is not on the list (app_update, nvs_flash) and mbedTLS", () => {
    for (const bare of ["esp_ota_ops.h", "nvs.h", "nvs_flash.h", "mbedtls/sha256.h"]) assert.ok(!names.has(bare), bare);
    assert.equal(names.get("app_update/include/esp_ota_ops.h"), "$(IDF_PATH)/components/app_update/include/esp_ota_ops.h");
  });

  it("finds each ESP-IDF header it includes under the same name in the virtual board's emulated ESP-IDF", () => {
    const missing = NATIVE_SOURCES.flatMap(includesOf)
      .filter((i) => names.get(i.name)?.startsWith("$(IDF_PATH)/") && !fs.existsSync(path.join(EMULATED_IDF, i.name)))
      .map((i) => i.name);
    assert.deepEqual(missing, [], "not emulated under host/vboard/idf/include");
  });
});
