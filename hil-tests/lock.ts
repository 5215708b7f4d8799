// One run per board: a lock file per board id (host/vboard/pid-lock.ts). A
// live holder makes the run wait for the next candidate or fail.

import os from "node:os";
import path from "node:path";
import { tryPidLock, type PidLock } from "../host/vboard/pid-lock.ts";

const DIR = path.join(os.tmpdir(), "xs-ota-hil-locks");

export type BoardLock = PidLock;

/** Take the lock of `boardId`, or return undefined when another live run holds it. */
export function tryLock(boardId: string): BoardLock | undefined {
  const lock = tryPidLock(path.join(DIR, `${boardId.replace(/[^\w.-]/g, "_")}.lock`));
  return "heldBy" in lock ? undefined : lock;
}
