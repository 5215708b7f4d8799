import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { APP_DESC_OFFSETS } from "./app-desc.js";
import { verifyAppImage } from "./app-image.js";
import { ChipId } from "./image-header.js";
import { decodeModuleArchive } from "./module-archive.js";
import { APP_DESC_LOAD_ADDR, buildVirtualBoardImage } from "./virtual-board-image.js";

const modules: Array<[string, string]> = [
  ["main", 'import x from "lib/x";\ntrace(x);\n'],
  ["lib/x", "export default 42;\n"],
];
const options = { version: "1.2.3", projectName: "xs-ota", modules, time: "12:34:56", date: "Jan  2 2025" };

describe("virtual-board image", () => {
  it("matches the golden image, checked independently in Python (432 bytes)", () => {
    const image = buildVirtualBoardImage(options);
    assert.equal(image.length, 432);
    assert.equal(createHash("sha256").update(image).digest("hex"), "d1f8f1ae491b7159bc74d1191033720569785b8172f578ee68840f4b7983d2ee");
    assert.equal(image[image.length - 33], 0xe1); // checksum byte
  });

  it("puts the descriptor in DROM at 0x3F400020 and the archive right after it, mapped contiguously", () => {
    const parsed = verifyAppImage(buildVirtualBoardImage(options), { partitionSize: 0x180000 });
    assert.equal(APP_DESC_LOAD_ADDR, 0x3f400020);
    assert.deepEqual(parsed.segments.map((s) => [s.loadAddr, s.dataOffset, s.data.length]), [
      [0x3f400020, 32, 256],
      [0x3f400128, 296, 88],
    ]);
    assert.equal(parsed.header.chipId, ChipId.VIRTUAL_BOARD);
    assert.equal(parsed.header.chipId, 0x4256);
    assert.equal(parsed.header.hashAppended, true);
  });

  it("exposes descriptor and modules when parsed", () => {
    const parsed = verifyAppImage(buildVirtualBoardImage(options));
    assert.deepEqual(
      [parsed.appDesc?.version, parsed.appDesc?.projectName, parsed.appDesc?.time, parsed.appDesc?.date, parsed.appDesc?.idfVer],
      ["1.2.3", "xs-ota", "12:34:56", "Jan  2 2025", "v5.5.1"],
    );
    assert.deepEqual([...parsed.modules!], modules);
  });

  it("is refused as an image for the ESP32, as a real ESP32's bootloader refuses it", () => {
    assert.throws(() => verifyAppImage(buildVirtualBoardImage(options), { chipId: ChipId.ESP32 }), { message: "image is for chip id 16982, expected 0" });
  });

  it("sets app_elf_sha256 to the SHA-256 of the descriptor (that field zero) and the module archive", () => {
    const parsed = verifyAppImage(buildVirtualBoardImage({ ...options, modules: new Map(modules) }));
    const archive = parsed.segments[1]!.data.subarray(0, 85);
    assert.deepEqual([...decodeModuleArchive(archive)], modules);
    const desc = Buffer.from(parsed.segments[0]!.data);
    desc.fill(0, APP_DESC_OFFSETS.appElfSha256, APP_DESC_OFFSETS.appElfSha256 + 32);
    assert.ok(parsed.appDesc!.appElfSha256.equals(createHash("sha256").update(desc).update(archive).digest()));
  });

  it("gives every build its own app_elf_sha256: it changes with anything that defines the build", () => {
    const elf = (changed: Partial<typeof options> & { idfVer?: string; secureVersion?: number }) =>
      verifyAppImage(buildVirtualBoardImage({ ...options, ...changed })).appDesc!.appElfSha256.toString("hex");
    const variants = [
      {},
      { version: "1.2.4" },
      { projectName: "other" },
      { time: "12:34:57" },
      { date: "Jan  3 2025" },
      { idfVer: "v5.4.2" },
      { secureVersion: 1 },
      { modules: [modules[0]!, ["lib/x", "export default 43;\n"]] as Array<[string, string]> },
    ];
    const seen = variants.map(elf);
    assert.equal(new Set(seen).size, variants.length);
    assert.equal(elf({}), seen[0], "the same inputs give the same one");
  });

  it("takes the modules from a one-shot iterable", () => {
    function* once() {
      yield* modules;
    }
    assert.deepEqual([...verifyAppImage(buildVirtualBoardImage({ ...options, modules: once() })).modules!], modules);
  });

  it("is reproducible: the same input gives the same bytes", () => {
    assert.ok(buildVirtualBoardImage(options).equals(buildVirtualBoardImage(options)));
  });

  it("carries idfVer and secureVersion", () => {
    const parsed = verifyAppImage(buildVirtualBoardImage({ ...options, idfVer: "v5.4.2", secureVersion: 3 }));
    assert.equal(parsed.appDesc?.idfVer, "v5.4.2");
    assert.equal(parsed.appDesc?.secureVersion, 3);
  });

  it("requires a main module and valid descriptor strings", () => {
    assert.throws(() => buildVirtualBoardImage({ ...options, modules: [["lib/x", ""]] }), {
      name: "AppImageError",
      message: 'the modules have no entry module "main"',
    });
    assert.throws(() => buildVirtualBoardImage({ ...options, projectName: "p".repeat(32) }), {
      message: `esp_app_desc_t projectName "${"p".repeat(32)}" is 32 bytes; at most 31 fit`,
    });
    assert.throws(() => buildVirtualBoardImage({ ...options, modules: [...modules, ["main", ""]] }), {
      name: "ModuleArchiveError",
      message: 'duplicate module "main"',
    });
  });

  it("refuses an archive that would not fit the 4 MB DROM window", () => {
    const big = "x".repeat(4 * 1024 * 1024);
    assert.throws(() => buildVirtualBoardImage({ ...options, modules: [["main", big]] }), {
      message: "module archive of 0x400016 bytes does not fit the ESP32's 4 MB DROM window",
    });
  });

  it("a flipped payload bit is caught by the checksum", () => {
    const image = buildVirtualBoardImage(options);
    image[300] ^= 0x01;
    assert.throws(() => verifyAppImage(image), { message: /^checksum mismatch/ });
  });
});
