import assert from "node:assert/strict";
import { rawMembers } from "rpc/json-members";

describe("rawMembers", () => {
  it("returns each top-level value's exact text and kind", () => {
    const m = rawMembers(' { "id" : 18446744073709551617 , "tag":{"a":[1,"}"]},"s":"x\\"}","n":null,"b":true,"f":-1.5e3 } ')!;
    assert.deepEqual(Object.fromEntries([...m].map(([k, v]) => [k, [v.text, v.kind]])), {
      id: ["18446744073709551617", "number"],
      tag: ['{"a":[1,"}"]}', "object"],
      s: ['"x\\"}"', "string"],
      n: ["null", "null"],
      b: ["true", "boolean"],
      f: ["-1.5e3", "number"],
    });
  });
  it("ends a string at a quote after an escaped backslash, and skips brackets and quotes inside nested strings", () => {
    const m = rawMembers('{"a":"x\\\\","b":[{"c":"]}\\"{"}],\n\t"d":\r false}')!;
    assert.deepEqual(Object.fromEntries([...m].map(([k, v]) => [k, v.text])), { a: '"x\\\\"', b: '[{"c":"]}\\"{"}]', d: "false" });
  });
  it("decodes escaped keys", () => {
    assert.equal(rawMembers('{"\\u0069d":7}')!.get("id")?.text, "7");
  });
  it("handles the empty object and refuses non-objects", () => {
    assert.equal(rawMembers("{}")!.size, 0);
    assert.equal(rawMembers("[1]"), undefined);
    assert.equal(rawMembers('"x"'), undefined);
  });
});
