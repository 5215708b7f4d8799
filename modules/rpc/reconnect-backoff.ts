// When to try a lost connection again: exponential back-off between a floor
// and a ceiling (mgos's mqtt.reconnect_timeout_min/max), halved at random so
// a fleet that lost its broker at once does not come back in one wave.
// Pure: the ESP32 MQTT adapter and the virtual board's supervisor share it.

export class ReconnectBackoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(minMs = 1000, maxMs = 60_000, random: () => number = Math.random) {
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.#random = random;
  }

  /** Milliseconds to wait before the next attempt, after a loss or a failed attempt. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.#failures);
    if (ceiling < this.maxMs) this.#failures++;
    return Math.round(ceiling * (0.5 + this.#random() / 2));
  }

  /** Connected: the next loss starts from the floor again. */
  reset(): void {
    this.#failures = 0;
  }
}
