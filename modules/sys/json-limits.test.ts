import assert from "node:assert/strict";
import { JSON_LIMITS, jsonLimitError } from "sys/json-limits";

const LIMITS = { maxDepth: 3, maxValues: 6, maxString: 5 };

describe("jsonLimitError", () => {
  it("passes what is within every limit", () => {
    assert.equal(jsonLimitError('{"a":[1,{"b":"12345"}]}', LIMITS), undefined);
    assert.equal(jsonLimitError('"\\"\\\\"', LIMITS), undefined);
  });
  it("counts depth outside strings only", () => {
    assert.equal(jsonLimitError("[[[[]]]]", LIMITS), "nested deeper than 3");
    assert.equal(jsonLimitError('["[[[[[", "{{{{"]', { ...LIMITS, maxString: 10 }), undefined);
  });
  it("counts values", () => {
    assert.equal(jsonLimitError("[1,2,3,4,5]", LIMITS), undefined);
    assert.equal(jsonLimitError("[1,2,3,4,5,6]", LIMITS), "more than 6 values");
  });
  it("measures strings across escaped quotes", () => {
    assert.equal(jsonLimitError('["ab\\"cd"]', LIMITS), "a string longer than 5 characters");
    assert.equal(jsonLimitError('["a\\\\"]', LIMITS), undefined);
    assert.equal(jsonLimitError('"unterminated', LIMITS), "a string longer than 5 characters");
  });
  it("keeps what the board's JSON.parse can take: 1,900 levels and 8,000 values are refused by default", () => {
    assert.match(jsonLimitError("[".repeat(1900) + "]".repeat(1900))!, /nested deeper than 16/);
    assert.match(jsonLimitError(`[${"0,".repeat(8000)}0]`)!, /more than 1024 values/);
    assert.equal(JSON_LIMITS.maxDepth, 16);
  });
});
