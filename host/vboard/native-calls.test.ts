import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { transform } from "esbuild";
import { buildFirmwareImage, compileFirmwareModules, manifestModules } from "./firmware.ts";
import { nativeCallErrors } from "./native-calls.ts";

const MANIFEST = path.resolve(import.meta.dirname, "../../manifest.json");

const messages = async (js: string) => (await nativeCallErrors(js)).map((e) => `${e.line}: ${e.message}`);

describe("native()/Native() as xsc binds them", () => {
  it("accepts a call of the bare identifier with one string literal, and properties that are only named so", async () => {
    const js = [
      'export class Slots extends Native("xs_slots_destructor") {',
      '  count() { return native("xs_ota_slot_count").call(this); }',
      "  native() { return this.native; }",
      "}",
      "const options = { native: 'yes', Native: 1 };",
      "options.native = 2;",
    ].join("\n");
    assert.deepEqual(await messages(js), []);
  });

  it("refuses what xsc refuses, in its words, with the line", async () => {
    assert.deepEqual(
      await messages('const name = "xs_x";\nnative(name);\nnative();\nNative("a", "b");\nnative(`xs_${name}`);\n'),
      ["2: native: argument is no string literal", "3: native: no argument", "4: Native: too many arguments", "5: native: argument is no string literal"],
    );
  });

  it("refuses any other use of the identifiers, which throws on the device", async () => {
    const uses = ["const bind = native;", 'new Native("xs_d");', 'native?.("xs_x");', '(native)("xs_x");', "let native = 1;"];
    for (const js of uses) assert.match((await messages(js)).join(), /used other than as (native|Native)\("name"\)/, js);
  });
});

describe("the virtual board's firmware build", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-native-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("fails on a module whose native name is not a literal, naming the module, its file and source line", async () => {
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ modules: { "*": ["./main"], "board/bad": "./bad" } }));
    fs.writeFileSync(path.join(dir, "main.ts"), 'import "board/bad";\n');
    fs.writeFileSync(
      path.join(dir, "bad.ts"),
      ["// a board module", "type Name = string;", "export function call(which: Name): unknown {", "  return native(`xs_${which}`).call(undefined);", "}", ""].join("\n"),
    );
    await assert.rejects(compileFirmwareModules(path.join(dir, "manifest.json")), (e: Error) => {
      assert.equal(e.name, "FirmwareBuildError");
      assert.match(e.message, /^xsc would refuse this firmware for the device:/);
      assert.match(e.message, /module "board\/bad" \(\S*bad\.ts:4\): native: argument is no string literal/);
      return true;
    });
  });

  it("fails on a replacement module that calls native() with a variable", async () => {
    await assert.rejects(
      buildFirmwareImage({ manifestPath: MANIFEST, version: "1.0.0", override: [["main", 'const n = "xs_ota_restart";\nnative(n).call(undefined);\n']] }),
      /module "main" line 2: native: argument is no string literal/,
    );
  });

  it("passes the firmware in this repository, the ESP32 adapters included", async () => {
    await compileFirmwareModules(MANIFEST);
    const refused: string[] = [];
    for (const [specifier, base] of manifestModules(MANIFEST, "esp32")) {
      if (!fs.existsSync(base + ".ts")) continue;
      const { code } = await transform(fs.readFileSync(base + ".ts", "utf8"), { loader: "ts", format: "esm", target: "es2022" });
      for (const e of await nativeCallErrors(code)) refused.push(`${specifier}: ${e.message}`);
    }
    assert.deepEqual(refused, []);
  });
});
