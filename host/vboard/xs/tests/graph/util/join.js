export function join(a, b) { return `${a}, ${b}`; }
