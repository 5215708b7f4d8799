import assert from "node:assert/strict";
import { decodeModuleArchive, encodeModuleArchive } from "./module-archive.js";

describe("module archive", () => {
  it("encodes the README format byte for byte", () => {
    const bytes = encodeModuleArchive(new Map([["main", "x"], ["é", ""]]));
    assert.equal(
      bytes.toString("hex"),
      Buffer.from("XSVBMODS").toString("hex") +
        "02000000" +
        "0400" + Buffer.from("main").toString("hex") + "01000000" + "78" +
        "0200" + "c3a9" + "00000000",
    );
  });

  it("round-trips, keeping archive order, from a Map or from pairs", () => {
    const modules: Array<[string, string]> = [
      ["main", 'import { frame } from "rpc/frame";\ntrace("hi\\n");\n'],
      ["rpc/frame", "export const frame = \"ünïcödé ✓ 😀\";\n"],
      ["a", ""],
    ];
    assert.deepEqual([...decodeModuleArchive(encodeModuleArchive(modules))], modules);
    assert.deepEqual([...decodeModuleArchive(encodeModuleArchive(new Map(modules)))], modules);
  });

  it("encodes an empty archive as magic and a zero count", () => {
    assert.equal(encodeModuleArchive([]).toString("hex"), Buffer.from("XSVBMODS").toString("hex") + "00000000");
    assert.equal(decodeModuleArchive(encodeModuleArchive([])).size, 0);
  });

  it("accepts up to 3 zero bytes of segment padding after the last module, nothing else", () => {
    const bytes = encodeModuleArchive([["main", "1"]]);
    assert.equal(decodeModuleArchive(Buffer.concat([bytes, Buffer.alloc(3)])).get("main"), "1");
    assert.throws(() => decodeModuleArchive(Buffer.concat([bytes, Buffer.alloc(4)])), {
      name: "ModuleArchiveError",
      message: "4 unexpected bytes after the last module at offset 0x17",
    });
    assert.throws(() => decodeModuleArchive(Buffer.concat([bytes, Buffer.from([1])])), {
      message: "1 unexpected bytes after the last module at offset 0x17",
    });
  });

  it("takes a name of 65535 bytes and refuses one more", () => {
    const long = "n".repeat(0xffff);
    assert.equal(decodeModuleArchive(encodeModuleArchive([[long, "s"]])).get(long), "s");
    assert.throws(() => encodeModuleArchive([[long + "n", "s"]]), {
      message: `module name "${"n".repeat(40)}..." is 65536 bytes; at most 65535`,
    });
  });

  it("refuses duplicate, empty, NUL-bearing and ill-formed names when encoding", () => {
    assert.throws(() => encodeModuleArchive([["main", "a"], ["main", "b"]]), { name: "ModuleArchiveError", message: 'duplicate module "main"' });
    assert.throws(() => encodeModuleArchive([["", "a"]]), { message: "a module name is empty" });
    assert.throws(() => encodeModuleArchive([["a\0b", "a"]]), { message: 'module name "a\\u0000b" contains NUL' });
    assert.throws(() => encodeModuleArchive([["m", "\ud800"]]), { message: 'source of "m" is not well-formed Unicode (lone surrogate)' });
  });

  describe("decoding malformed archives", () => {
    const good = () => encodeModuleArchive([["main", "abc"], ["lib", "de"]]);

    it("bad magic", () => {
      const bytes = good();
      bytes[0] = 0x59;
      assert.throws(() => decodeModuleArchive(bytes), { message: 'bad module archive magic "YSVBMODS" (expected "XSVBMODS")' });
    });

    it("short header", () => {
      assert.throws(() => decodeModuleArchive(good().subarray(0, 10)), {
        message: "module archive truncated: the header needs 12 bytes at offset 0x0, 10 left",
      });
    });

    it("a count larger than the entries", () => {
      const bytes = good();
      bytes.writeUInt32LE(3, 8);
      assert.throws(() => decodeModuleArchive(bytes), {
        message: "module archive truncated: module 2 name length needs 2 bytes at offset 0x24, 0 left",
      });
    });

    it("a source running past the end", () => {
      const bytes = good();
      assert.throws(() => decodeModuleArchive(bytes.subarray(0, bytes.length - 1)), {
        message: 'module archive truncated: module "lib" source needs 2 bytes at offset 0x22, 1 left',
      });
    });

    it("a duplicate name", () => {
      const one = (source: string) => encodeModuleArchive([["main", source]]);
      const dup = Buffer.concat([one("abc"), one("x").subarray(12)]);
      dup.writeUInt32LE(2, 8);
      assert.throws(() => decodeModuleArchive(dup), { message: 'duplicate module "main" (entry 1)' });
    });

    it("invalid UTF-8 in a name or source", () => {
      const name = encodeModuleArchive([["mé", "x"]]);
      name[12 + 2 + 1] = 0xff;
      assert.throws(() => decodeModuleArchive(name), { message: "module 0 name is not valid UTF-8" });
      const source = encodeModuleArchive([["m", "é"]]);
      source[source.length - 1] = 0x41;
      assert.throws(() => decodeModuleArchive(source), { message: 'source of module "m" is not valid UTF-8' });
    });

    it("an empty name", () => {
      const bytes = Buffer.from("XSVBMODS\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", "latin1");
      assert.throws(() => decodeModuleArchive(bytes), { message: "module 0 has an empty name" });
    });
  });
});
