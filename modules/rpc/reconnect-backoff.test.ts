import assert from "node:assert/strict";
import { ReconnectBackoff } from "rpc/reconnect-backoff";

describe("ReconnectBackoff", () => {
  it("doubles from the floor to the ceiling, then stays there", () => {
    const b = new ReconnectBackoff(1000, 8000, () => 1);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000, 8000, 8000]);
  });
  it("waits between half and all of the current ceiling", () => {
    const low = new ReconnectBackoff(1000, 8000, () => 0);
    assert.deepEqual([low.next(), low.next()], [500, 1000]);
  });
  it("starts from the floor again after a connection", () => {
    const b = new ReconnectBackoff(100, 60_000, () => 1);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 100);
  });
});
