import assert from "node:assert/strict";
import { JSON_LIMITS, jsonLimitError, otherMembers, readJson } from "sys/json-limits";
import { useNameCheck } from "sys/names";

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
  it("scans UTF-8 bytes as it scans text", () => {
    const bytes = (t: string) => new TextEncoder().encode(t);
    assert.equal(jsonLimitError(bytes('{"a":[1,2,{"b":"x\\"y"}]}'), LIMITS), undefined);
    assert.match(jsonLimitError(bytes("[[[[1]]]]"), LIMITS)!, /nested deeper than 3/);
    assert.match(jsonLimitError(bytes("[1,2,3,4,5,6,7]"), LIMITS)!, /more than 6 values/);
    assert.match(jsonLimitError(bytes('["abcdef"]'), LIMITS)!, /a string longer than 5/);
  });

  it("keeps what the board's JSON.parse can take: 1,900 levels and 8,000 values are refused by default", () => {
    assert.match(jsonLimitError("[".repeat(1900) + "]".repeat(1900))!, /nested deeper than 16/);
    assert.match(jsonLimitError(`[${"0,".repeat(8000)}0]`)!, /more than 256 values/);
    assert.equal(JSON_LIMITS.maxDepth, 16);
  });
});

describe("readJson: names from outside", () => {
  const held = new Set(["method", "params", "url", "a", "b", "c", "config", "x y"]);
  before(() => useNameCheck((name) => held.has(name)));
  after(() => useNameCheck(() => true));
  const read = (text: string) => {
    const r = readJson(text);
    assert.ok(r.ok, JSON.stringify(r));
    return r.value;
  };
  /** What JSON.stringify sees: the properties, without the members set aside. */
  const properties = (text: string) => JSON.parse(JSON.stringify(read(text))) as unknown;

  it("keeps members whose names the engine holds, at every depth", () => {
    assert.deepEqual(read('{"method":"X","params":{"url":"u","a":[{"b":1}]}}'), { method: "X", params: { url: "u", a: [{ b: 1 }] } });
  });
  it("sets members with other names aside, first, middle, last, all, nested", () => {
    assert.deepEqual(properties('{"z1":1,"a":1,"z2":{"a":2},"b":2,"z3":3}'), { a: 1, b: 2 });
    assert.deepEqual(properties('{ "z1" : 1 , "z2":2 ,"a":1}'), { a: 1 });
    assert.deepEqual(properties('{"z1":1,"z2":2}'), {});
    assert.deepEqual(properties('{"a":{"z":{"q":1},"b":[{"zz":1,"c":3}]}}'), { a: { b: [{ c: 3 }] } });
    assert.deepEqual(properties('[{"z":1},{"a":1,"z":2}]'), [{}, { a: 1 }]);
    const users = read('{"config":{"fresh":"x","a":1,"fresh":"y","other":{"b":2}}}') as { config: object };
    assert.deepEqual([...otherMembers(users.config)!], [["fresh", "y"], ["other", { b: 2 }]]);
    assert.equal(otherMembers(read("{}") as object), undefined);
  });
  it("makes __proto__ an own property, as JSON.parse does", () => {
    useNameCheck(() => true);
    const o = read('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    useNameCheck((name) => held.has(name));
  });
  it("reads escaped names as their characters, and never takes a name with a NUL", () => {
    assert.deepEqual(properties('{"\\u0061":1,"x\\u0020y":2}'), { a: 1, "x y": 2 });
    useNameCheck(() => true);
    assert.deepEqual(properties('{"a\\u0000b":1,"a":2}'), { a: 2 });
    useNameCheck((name) => held.has(name));
  });
  it("refuses what is not JSON before JSON.parse meets a name", () => {
    for (const bad of ['{"a":1,', '{"a" 1}', '{"a":1}x', "[1,]", '{"a":01}', '"\\x"', '"a\nb"', "{a:1}", "tru", ""]) {
      const r = readJson(bad);
      assert.ok(!r.ok && !r.overLimit && /^not valid JSON/.test(r.reason), `${bad}: ${JSON.stringify(r)}`);
    }
  });
  it("agrees with JSON.parse on valid texts", () => {
    useNameCheck(() => true);
    for (const good of ['{"a":[1,-2.5e+3,true,false,null,"s\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"]}', " [ ] ", "0", '"x"', '{"":{}}']) {
      assert.deepEqual(read(good), JSON.parse(good), good);
    }
    useNameCheck((name) => held.has(name));
  });
  it("says when the text is over the limits", () => {
    const r = readJson("[".repeat(17) + "]".repeat(17));
    assert.deepEqual(r, { ok: false, overLimit: true, reason: "nested deeper than 16" });
  });
});
