import assert from "node:assert/strict";
import { view } from "sys/bytes";

describe("sys/bytes view", () => {
  const bytes = new Uint8Array([1, 2, 3, 4]);

  it("is the array itself when the range is all of it", () => {
    assert.equal(view(bytes, 0, 4), bytes);
  });

  it("is a subarray over the same memory otherwise", () => {
    const part = view(bytes, 1, 3);
    assert.notEqual(part, bytes);
    assert.deepEqual([...part], [2, 3]);
    assert.equal(part.buffer, bytes.buffer);
    assert.equal(part.byteOffset, 1);
  });
});
