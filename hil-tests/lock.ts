// One run per board: a lock file per board id, created exclusively, naming
// the process that holds it. A lock whose process is gone is stale and taken
// over; a live one makes the run wait for the next candidate or fail.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const DIR = path.join(os.tmpdir(), "xs-ota-hil-locks");

export interface BoardLock {
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

/** Take the lock of `boardId`, or return undefined when another live run holds it. */
export function tryLock(boardId: string): BoardLock | undefined {
  fs.mkdirSync(DIR, { recursive: true });
  const file = path.join(DIR, `${boardId.replace(/[^\w.-]/g, "_")}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return { file, release: () => fs.rmSync(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(fs.readFileSync(file, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) return undefined;
      fs.rmSync(file, { force: true });
    }
  }
  return undefined;
}
