import assert from "node:assert/strict";
import { hasOwnName, isHeldName, useNameCheck } from "sys/names";

describe("names from outside", () => {
  after(() => useNameCheck(() => true));

  it("are usable as property names when the engine holds them, and never with a NUL (its check reads a C string)", () => {
    useNameCheck((name) => name.startsWith("url"));
    assert.equal(isHeldName("url"), true);
    assert.equal(isHeldName("fresh"), false);
    assert.equal(isHeldName("url\u0000x"), false);
  });
  it("hasOwnName finds own names only", () => {
    assert.equal(hasOwnName({ a: 1 }, "a"), true);
    assert.equal(hasOwnName({ a: 1 }, "toString"), false);
    assert.equal(hasOwnName({}, "b"), false);
  });
});
