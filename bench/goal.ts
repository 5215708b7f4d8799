// A figure's goal is a comparison of its ratio with a threshold, written as the
// issue writes it (">= 0.9", "< 1"): the report says whether it is met, the
// plot draws the threshold.

export interface Goal {
  readonly op: "<" | "<=" | ">" | ">=";
  readonly threshold: number;
}

export function parseGoal(goal: string): Goal {
  const m = /^\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*$/.exec(goal);
  if (!m) throw new Error(`a goal is a comparison with a number, like ">= 0.9", not "${goal}"`);
  return { op: m[1] as Goal["op"], threshold: Number(m[2]) };
}

export function goalMet(goal: string, ratio: number): boolean {
  const { op, threshold } = parseGoal(goal);
  switch (op) {
    case "<":
      return ratio < threshold;
    case "<=":
      return ratio <= threshold;
    case ">":
      return ratio > threshold;
    case ">=":
      return ratio >= threshold;
  }
}
