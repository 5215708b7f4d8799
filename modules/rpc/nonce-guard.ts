// Which nonces a device still accepts, and which uses of them it has seen.
// A nonce is the device's own Unix time when it issued the challenge; it is
// good for an hour (spec/mos-rpc.md §2.6), and within that hour each
// authenticated use (user, cnonce, nc) is accepted once, so a recorded `auth`
// object or Authorization header cannot be replayed (cesanta/mongoose-os#454).
//
// Memory stays bounded: past `capacity` remembered uses, the oldest nonce is
// forgotten as a whole and the floor rises above it, so that nonce is stale
// from then on (a client using it gets a fresh challenge). Only uses of the
// current second are never forgotten, or a client could not get a nonce the
// device accepts; they are few, since each needs a valid digest. (On the
// virtual board's virtual clock a second lasts until a test moves the clock,
// and so does this exception.) The floor starts at the boot time: nonces of
// earlier boots, whose uses were remembered in RAM only, are refused.

/** How long a nonce is good for, in seconds. */
export const NONCE_LIFETIME_S = 3600;

export class NonceGuard {
  readonly #capacity: number;
  /** Uses seen, by nonce. */
  readonly #seen = new Map<number, Set<string>>();
  #count = 0;
  /** Nonces below it are refused. */
  #floor: number;

  constructor(bootTime: number, capacity = 64) {
    // Whole seconds, as nonces are: a fraction would refuse the nonces of the boot's first second.
    this.#floor = Math.floor(bootTime);
    this.#capacity = capacity;
  }

  /** Issued by this boot, not in the future and less than an hour old. */
  isFresh(nonce: number, now: number): boolean {
    // A clock set back (a time sync) would otherwise refuse every nonce it issues until it catches up.
    if (now < this.#floor) this.#floor = now;
    return Number.isSafeInteger(nonce) && nonce >= this.#floor && nonce <= now && now - nonce < NONCE_LIFETIME_S;
  }

  /** Record one use of a fresh nonce; false when that use was seen before (a replay). */
  claim(nonce: number, use: string, now: number): boolean {
    this.#forgetExpired(now);
    let uses = this.#seen.get(nonce);
    if (uses?.has(use)) return false;
    if (!uses) this.#seen.set(nonce, (uses = new Set()));
    uses.add(use);
    this.#count++;
    // Forgetting this use's own nonce is fine: the floor then refuses any replay of it.
    while (this.#count > this.#capacity) {
      const oldest = Math.min(...this.#seen.keys());
      if (oldest >= now) break;
      this.#drop(oldest);
      this.#floor = Math.max(this.#floor, oldest + 1);
    }
    return true;
  }

  /** Uses remembered now (for tests and statistics). */
  get size(): number {
    return this.#count;
  }

  #forgetExpired(now: number): void {
    for (const nonce of Array.from(this.#seen.keys())) {
      if (now - nonce >= NONCE_LIFETIME_S) this.#drop(nonce);
    }
  }

  #drop(nonce: number): void {
    this.#count -= this.#seen.get(nonce)?.size ?? 0;
    this.#seen.delete(nonce);
  }
}
