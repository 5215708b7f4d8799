// Root hooks of the HIL run: pick and lock a board from the rig inventory,
// bring it up with known firmware, and keep each test's console in a log of
// its own (build/hil/logs/, or under HIL_REPORT_DIR), which the JUnit report links.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "mocha";
import { boardBits } from "../host/vboard/assets.ts";
import { buildFirmwarePackage, type FirmwarePackage } from "../host/vboard/firmware-package.ts";
import { SerialDut, VirtualDut, type Dut } from "./dut.ts";
import { tryLock, type BoardLock } from "./lock.ts";
import { candidates, loadRig } from "./rig.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const REPORT_DIR = path.resolve(ROOT, process.env.HIL_REPORT_DIR || "build/hil");
export const LOG_DIR = path.join(REPORT_DIR, "logs");

/** The file name of a test's console log; the reporter uses the same rule. */
export function logName(fullTitle: string): string {
  return fullTitle.replace(/[^\w.-]+/g, "_").slice(0, 120) + ".log";
}

export interface HilFirmware {
  /** What the board runs at the start of every suite. */
  readonly base: FirmwarePackage;
  readonly update: FirmwarePackage;
  readonly crash: FirmwarePackage;
}

let current: { dut: Dut; lock: BoardLock; firmware: HilFirmware } | undefined;

export function dut(): Dut {
  if (!current) throw new Error("no board: the HIL setup did not run");
  return current.dut;
}

export function firmware(): HilFirmware {
  if (!current) throw new Error("no board: the HIL setup did not run");
  return current.firmware;
}

async function buildFirmware(): Promise<HilFirmware> {
  return {
    base: await buildFirmwarePackage({ version: "1.0.0-hil" }),
    update: await buildFirmwarePackage({ version: "2.0.0-hil" }),
    crash: await buildFirmwarePackage({
      version: "2.0.1-crash",
      firmwareOverride: [["main", 'throw new Error("hil test firmware: crash at start");\n']],
    }),
  };
}

export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(120_000);
    const rig = loadRig(process.env.HIL_RIG ?? path.join(ROOT, "boards/rig.yaml"));
    const tags = (process.env.HIL_TAGS ?? "").split(",").filter(Boolean);
    const boards = candidates(rig, process.env.HIL_BOARD || undefined, tags);
    for (const board of boards) {
      // Each run gets a virtual board of its own; only a real one can be shared by mistake.
      const lock = board.target === "virtual" ? { file: "", release: () => {} } : tryLock(board.id);
      if (!lock) continue;
      try {
        const fw = await buildFirmware();
        const d = board.target === "virtual" ? await VirtualDut.start(board, fw.base.app) : await SerialDut.open(board);
        current = { dut: d, lock, firmware: fw };
        const build = board.target === "virtual" ? `, ${boardBits().bits}-bit build` : "";
        process.stdout.write(`  HIL board: ${board.id} (${board.target}${build})\n`);
        break;
      } catch (e) {
        lock.release();
        throw e;
      }
    }
    if (!current) throw new Error(`every candidate board is in use by another run: ${boards.map((b) => b.id).join(", ")}`);
    fs.rmSync(LOG_DIR, { recursive: true, force: true });
    fs.mkdirSync(LOG_DIR, { recursive: true });
  },
  beforeEach() {
    current?.dut.markConsole();
  },
  afterEach(this: Context) {
    const test = this.currentTest;
    if (!current || !test) return;
    fs.writeFileSync(path.join(LOG_DIR, logName(test.fullTitle())), current.dut.console());
  },
  async afterAll() {
    if (!current) return;
    const { dut: d, lock } = current;
    current = undefined;
    try {
      await d.close();
    } finally {
      lock.release();
    }
  },
};
