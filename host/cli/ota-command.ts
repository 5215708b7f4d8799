// xs-ota ota FILE: push a fw.zip the way `mos ota` does (spec/mos-rpc.md
// §1.8): OTA.Status, OTA.Begin {timeout, commit_timeout, size}, OTA.Write
// {offset, data} per chunk (a write whose reply is lost is sent again with
// the same offset, up to 3 times), OTA.End. The device reboots into the new
// firmware, which must then be committed within the commit timeout. Before
// OTA.Begin, the app's chip id is compared with the one the device reports
// (Sys.GetInfo chip_id): an image for a virtual board is not sent to an
// ESP32, nor the reverse.

import fs from "node:fs";
import { SingleBar } from "cli-progress";
import { InvalidArgumentError, type Command } from "commander";
import { RemoteError, TimeoutError, type RpcClient } from "../client/rpc-client.ts";
import { TransportError } from "../client/transport.ts";
import { parseFwZip } from "../fwpack/fw-zip.ts";
import { chipName } from "ota/image-check";
import { UsageError, withClient, type GlobalOptions } from "./connect.ts";
import { parseDurationMs } from "./duration.ts";

interface OtaOptions {
  commitTimeout: number;
  updateTimeout: number;
  chunkSize: number;
  force?: boolean;
}

const WRITE_ATTEMPTS = 3;

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a number of seconds: ${value}`);
  return n;
}

function chunkSize(value: string): number {
  const n = Number(value);
  // 512 is mos's default; 2048 keeps a base64 frame well under the device's 4096-byte limit.
  if (!Number.isInteger(n) || n < 16 || n > 2048) throw new InvalidArgumentError("chunk size must be 16..2048 bytes");
  return n;
}

export function registerOtaCommand(program: Command): void {
  program
    .command("ota")
    .description("update the device with a firmware package (fw.zip), as mos ota does")
    .argument("<file>", "the fw.zip to send")
    .option("--commit-timeout <s>", "seconds the new firmware has to be committed (OTA.Commit) before it reverts; 0 commits at first boot", seconds, 300)
    .option("--update-timeout <duration>", "give up when the device makes no progress for this long", (v) => parseDurationMs(v), 600_000)
    .option("--chunk-size <bytes>", "bytes per OTA.Write", chunkSize, 512)
    .option("--force", "send the file even if it does not look like a valid package")
    .action(async (file: string, options: OtaOptions) => {
      const { zip, chipId } = readPackage(file, options.force === true);
      const global = program.opts<GlobalOptions>();
      await withClient(global, async (client) => {
        if (chipId !== undefined) await checkChip(client, file, chipId);
        await pushPackage(client, zip, options);
      });
      process.stderr.write(
        options.commitTimeout > 0
          ? `update applied: the device reboots into it; commit it with \`xs-ota call OTA.Commit\` within ${options.commitTimeout} s or it reverts\n`
          : "update applied: the device reboots into it and commits it at first boot\n",
      );
    });
}

/** The package, and the chip id of its app (undefined with --force: nothing is checked then). */
function readPackage(file: string, force: boolean): { zip: Buffer; chipId?: number } {
  let zip: Buffer;
  try {
    zip = fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  if (!force) {
    // The device checks everything again; checking here saves a slow transfer of a bad file.
    const contents = (() => {
      try {
        return parseFwZip(zip);
      } catch (e) {
        throw new UsageError(`${file} is not a firmware package: ${(e as Error).message} (--force sends it anyway)`);
      }
    })();
    if (contents.failures.length) throw new UsageError(`${file} fails its own checks: ${contents.failures.join("; ")} (--force sends it anyway)`);
    return { zip, chipId: contents.parts.find((p) => p.attrs.type === "app")?.app?.header.chipId };
  }
  return { zip };
}

/**
 * The device would refuse the app itself (Wrong platform), but only once the
 * transfer reaches it; refusing here sends nothing. A device that reports no
 * chip id (Mongoose OS, older xs-ota) is left to do that.
 */
async function checkChip(client: RpcClient, file: string, chipId: number): Promise<void> {
  const info = (await client.call("Sys.GetInfo")) as { chip_id?: unknown };
  const board = info.chip_id;
  if (typeof board !== "number" || board === chipId) return;
  throw new UsageError(
    `${file} is built for chip id ${chipId} (${chipName(chipId)}), the device is ${board} (${chipName(board)}): nothing was sent (--force sends it anyway)`,
  );
}

async function pushPackage(client: RpcClient, zip: Buffer, options: OtaOptions): Promise<void> {
  const status = (await client.call("OTA.Status")) as { state?: number };
  if (status.state !== 0 && status.state !== 2 && status.state !== 3) {
    throw new TransportError(`update is already in progress (state ${status.state}); call OTA.End to abort it`);
  }
  await client.call("OTA.Begin", {
    timeout: Math.ceil(options.updateTimeout / 1000),
    commit_timeout: options.commitTimeout,
    size: zip.length,
  });
  const bar = progressBar(zip.length);
  try {
    for (let offset = 0; offset < zip.length; offset += options.chunkSize) {
      const data = zip.subarray(offset, offset + options.chunkSize).toString("base64");
      await writeWithRetries(client, offset, data);
      bar.update(Math.min(offset + options.chunkSize, zip.length));
    }
  } catch (e) {
    bar.stop();
    // Leave the device idle rather than waiting for its watchdog.
    await client.call("OTA.End").catch(() => undefined);
    throw e;
  }
  bar.stop();
  await client.call("OTA.End");
}

async function writeWithRetries(client: RpcClient, offset: number, data: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.call("OTA.Write", { offset, data });
      return;
    } catch (e) {
      // A device error is final; a lost reply or frame is worth another try.
      const retryable = e instanceof TimeoutError || e instanceof TransportError;
      if (!retryable || attempt >= WRITE_ATTEMPTS) {
        const why = e instanceof RemoteError ? e.message : (e as Error).message;
        throw new TransportError(`write failed at offset ${offset}: ${why}`);
      }
    }
  }
}

interface Bar {
  update(value: number): void;
  stop(): void;
}

/** A progress bar on a terminal; elsewhere one line at the end. */
function progressBar(total: number): Bar {
  if (!process.stderr.isTTY) {
    return { update: () => {}, stop: () => process.stderr.write(`sent ${total} bytes\n`) };
  }
  const bar = new SingleBar({
    format: "OTA |{bar}| {percentage}% {value}/{total} bytes {speed} KB/s eta {eta_formatted}",
    stream: process.stderr,
    hideCursor: true,
  });
  const started = Date.now();
  bar.start(total, 0, { speed: "0.0" });
  return {
    update: (value) => bar.update(value, { speed: (value / 1024 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1) }),
    stop: () => bar.stop(),
  };
}
