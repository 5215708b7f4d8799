// xs-ota fwinfo FILE: what a fw.zip or a bare app image holds, and whether
// the device would take it. Exit 0 when every check passes; 1 when the file
// cannot be read or a check fails (after printing what was found).

import fs from "node:fs";
import type { Command } from "commander";
import { inspectFirmware, type FirmwareInfo } from "./fwinfo-report.ts";
import { renderFwinfo } from "./fwinfo-text.ts";

interface FwinfoOptions {
  json?: boolean;
}

function readInput(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message}`);
  }
}

export function registerFwinfoCommand(program: Command): void {
  program
    .command("fwinfo")
    .description("show and check what a firmware package (fw.zip) or an app image holds")
    .argument("<file>", "fw.zip or app image (.bin)")
    .option("--json", "print the findings as JSON")
    .addHelpText("after", "\nExamples:\n  xs-ota fwinfo build/fw.zip\n  xs-ota fwinfo --json build/app.bin")
    .action((file: string, options: FwinfoOptions) => {
      let info: FirmwareInfo;
      try {
        info = inspectFirmware(file, readInput(file));
      } catch (e) {
        const message = (e as Error).message;
        throw new Error(message.startsWith("cannot read") ? message : `${file}: ${message}`);
      }
      process.stdout.write(options.json ? JSON.stringify(info, null, 2) + "\n" : renderFwinfo(info));
      if (info.failures.length > 0) throw new Error(`${file}: ${info.failures.join("; ")}`);
    });
}
