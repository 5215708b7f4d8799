import assert from "node:assert/strict";
import { NONCE_LIFETIME_S, NonceGuard } from "rpc/nonce-guard";

const BOOT = 1_700_000_000;

describe("nonce guard", () => {
  it("accepts a nonce of this boot, not in the future, for less than an hour", () => {
    const g = new NonceGuard(BOOT);
    assert.equal(g.isFresh(BOOT, BOOT), true);
    assert.equal(g.isFresh(BOOT + 10, BOOT + 10 + NONCE_LIFETIME_S - 1), true);
    assert.equal(g.isFresh(BOOT + 10, BOOT + 10 + NONCE_LIFETIME_S), false, "an hour old");
    assert.equal(g.isFresh(BOOT + 11, BOOT + 10), false, "in the future");
    assert.equal(g.isFresh(BOOT - 1, BOOT + 5), false, "issued before this boot");
    assert.equal(g.isFresh(BOOT + 0.5, BOOT + 5), false, "not a whole second");
  });

  it("accepts each use of a nonce once: a replay is refused, another cnonce or nc is not one", () => {
    const g = new NonceGuard(BOOT);
    assert.equal(g.claim(BOOT + 1, "admin\n42\n1", BOOT + 2), true);
    assert.equal(g.claim(BOOT + 1, "admin\n42\n1", BOOT + 3), false);
    assert.equal(g.claim(BOOT + 1, "admin\n43\n1", BOOT + 3), true);
    assert.equal(g.claim(BOOT + 1, "admin\n42\n00000002", BOOT + 3), true);
    assert.equal(g.claim(BOOT + 1, "other\n42\n1", BOOT + 3), true);
  });

  it("stays bounded: past capacity the oldest nonce is forgotten and becomes stale, so it cannot be replayed", () => {
    const g = new NonceGuard(BOOT, 4);
    for (let i = 0; i < 4; i++) assert.equal(g.claim(BOOT + 1, `u\n${i}\n1`, BOOT + 10), true);
    assert.equal(g.claim(BOOT + 2, "u\n0\n1", BOOT + 10), true);
    assert.equal(g.size, 1, "nonce BOOT+1 forgotten as a whole");
    assert.equal(g.isFresh(BOOT + 1, BOOT + 10), false, "and refused from now on");
    assert.equal(g.isFresh(BOOT + 2, BOOT + 10), true);
    // The use that pushed its own nonce out is covered by the floor too.
    const h = new NonceGuard(BOOT, 2);
    for (let i = 0; i < 3; i++) assert.equal(h.claim(BOOT + 1, `u\n${i}\n1`, BOOT + 10), true);
    assert.equal(h.size, 0);
    assert.equal(h.isFresh(BOOT + 1, BOOT + 10), false);
  });

  it("never forgets uses of the current second, so a fresh challenge always works", () => {
    const g = new NonceGuard(BOOT, 2);
    for (let i = 0; i < 10; i++) assert.equal(g.claim(BOOT + 5, `u\n${i}\n1`, BOOT + 5), true);
    assert.equal(g.size, 10);
    assert.equal(g.isFresh(BOOT + 5, BOOT + 5), true);
    assert.equal(g.claim(BOOT + 5, "u\n3\n1", BOOT + 5), false, "still a replay");
    // A second later they may go.
    assert.equal(g.claim(BOOT + 6, "u\n0\n1", BOOT + 6), true);
    assert.equal(g.size, 1);
  });

  it("forgets uses whose nonce expired", () => {
    const g = new NonceGuard(BOOT);
    g.claim(BOOT, "u\n1\n1", BOOT);
    g.claim(BOOT + NONCE_LIFETIME_S, "u\n2\n1", BOOT + NONCE_LIFETIME_S);
    assert.equal(g.size, 1);
  });

  it("accepts the nonces of the boot's first second, whatever fraction of it the boot came at", () => {
    const g = new NonceGuard(BOOT + 0.9);
    assert.equal(g.isFresh(BOOT, BOOT + 0.95), true);
  });

  it("follows a clock set back, rather than refusing every nonce it issues", () => {
    const g = new NonceGuard(BOOT);
    assert.equal(g.isFresh(BOOT - 100, BOOT - 100), true);
  });
});
