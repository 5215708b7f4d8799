import assert from "node:assert/strict";
import { parseDurationMs } from "./duration.ts";
import { prettyJson } from "./pretty-json.ts";

describe("prettyJson", () => {
  it("indents like JSON.stringify(v, null, 2) for ordinary values", () => {
    const v = { a: [1, { b: "x,y:{}" }, []], c: {}, d: null, e: "q\"}" };
    assert.equal(prettyJson(JSON.stringify(v)), JSON.stringify(v, null, 2));
  });
  it("keeps number texts and compact input whitespace-insensitive", () => {
    assert.equal(prettyJson(' { "n" : 18446744073709551617 } '), '{\n  "n": 18446744073709551617\n}');
    assert.equal(prettyJson("[ ]"), "[]");
    assert.equal(prettyJson("null"), "null");
  });
});

describe("parseDurationMs", () => {
  it("reads mos-style durations and plain seconds", () => {
    assert.equal(parseDurationMs("10s"), 10_000);
    assert.equal(parseDurationMs("500ms"), 500);
    assert.equal(parseDurationMs("2m"), 120_000);
    assert.equal(parseDurationMs("1.5"), 1500);
  });
  it("refuses nonsense", () => {
    assert.throws(() => parseDurationMs("soon"), /invalid duration "soon"/);
    assert.throws(() => parseDurationMs("0"), /must be positive/);
  });
});
