// A lock file per resource, created exclusively and naming the process that
// holds it. A lock whose process is gone is stale and taken over. Used where
// two runs must not share one thing: a rig board, a virtual board's flash
// image or UART link.

import fs from "node:fs";
import path from "node:path";

export interface PidLock {
  readonly file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Take the lock `file` for this process, or say which live process holds it. */
export function tryPidLock(file: string): PidLock | { heldBy: number } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return { file, release: () => fs.rmSync(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(file, "utf8"));
    } catch {
      continue; // released between our attempt and the read: try again
    }
    if (Number.isInteger(holder) && holder > 0 && alive(holder)) return { heldBy: holder };
    fs.rmSync(file, { force: true });
  }
}
