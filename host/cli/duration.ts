// Durations as mos takes them ("10s", "500ms", "2m", "1h") or plain seconds.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}": use a number of seconds or a value like 10s, 500ms, 2m`);
  const ms = Number(m[1]) * UNITS[m[2] ?? "s"]!;
  if (ms <= 0) throw new Error(`duration must be positive: "${text}"`);
  return ms;
}
