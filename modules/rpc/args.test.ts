import assert from "node:assert/strict";
import { argsObject, optionalBoolean, optionalInteger, optionalString } from "rpc/args";
import { RpcError } from "rpc/dispatcher";

const refused = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof RpcError && e.code === 400 && e.rpcMessage === message);

describe("handler arguments", () => {
  it("reads absent args as an empty object and refuses non-objects with 400", () => {
    assert.deepEqual(argsObject(undefined), {});
    assert.deepEqual(argsObject(null), {});
    refused(() => argsObject([1]), "args must be an object");
    refused(() => argsObject("x"), "args must be an object");
  });
  it("accepts integers as numbers or numeric strings (commit_timeout: 300 or \"300\")", () => {
    assert.equal(optionalInteger({ t: 300 }, "t"), 300);
    assert.equal(optionalInteger({ t: "300" }, "t"), 300);
    assert.equal(optionalInteger({ t: " -5 " }, "t"), -5);
    assert.equal(optionalInteger({}, "t"), undefined);
    refused(() => optionalInteger({ t: 1.5 }, "t"), "t must be an integer");
    refused(() => optionalInteger({ t: "30s" }, "t"), "t must be an integer");
    refused(() => optionalInteger({ t: true }, "t"), "t must be an integer");
  });
  it("checks strings and booleans", () => {
    assert.equal(optionalString({ u: "x" }, "u"), "x");
    refused(() => optionalString({ u: 1 }, "u"), "u must be a string");
    assert.equal(optionalBoolean({ b: false }, "b"), false);
    refused(() => optionalBoolean({ b: "true" }, "b"), "b must be a boolean");
  });
});
