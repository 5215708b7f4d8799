// xs-ota ota FILE: push a fw.zip the way `mos ota` does (spec/mos-rpc.md
// §1.8): OTA.Status, OTA.Begin {timeout, commit_timeout, size}, OTA.Write
// {offset, data} per chunk (a write whose reply is lost is sent again with
// the same offset, up to 3 times), OTA.End. With --window N, N writes are in
// flight at once, in order: the line carries the next while the device
// writes the last to flash; after a lost one the device refuses the ones
// behind it (wrong offset), and the push goes on from the lost one. The
// device reboots into the new firmware, which must then be committed within
// the commit timeout. Before OTA.Begin, the app's chip id is compared with
// the one the device reports (Sys.GetInfo chip_id): an image for a virtual
// board is not sent to an ESP32, nor the reverse.

import fs from "node:fs";
import { SingleBar } from "cli-progress";
import { InvalidArgumentError, type Command } from "commander";
import { TimeoutError, type RpcClient } from "../client/rpc-client.ts";
import { TransportError } from "../client/transport.ts";
import { parseFwZip } from "../fwpack/fw-zip.ts";
import { chipName } from "ota/image-check";
import { MAX_FRAME_SIZE, encodeRequest } from "rpc/frame";
import { UsageError, withClient, type GlobalOptions } from "./connect.ts";
import { parseDurationMs } from "./duration.ts";

interface OtaOptions {
  commitTimeout: number;
  updateTimeout: number;
  chunkSize: number;
  window: number;
  force?: boolean;
}

const WRITE_ATTEMPTS = 3;

/** Room in a frame for what a request may carry besides an OTA.Write's own fields: a dst, a digest auth object. */
const FRAME_EXTRAS = 256;

/**
 * The largest chunk whose OTA.Write frame stays within the device's
 * MAX_FRAME_SIZE bytes of JSON, with the longest id mos sends and an
 * 8-digit offset (beyond any app slot).
 */
export const MAX_CHUNK_SIZE = (() => {
  const envelope = encodeRequest({ src: "mos", id: 2 ** 41 - 1, method: "OTA.Write", params: { offset: 99_999_999, data: "" } }).length;
  return Math.floor((MAX_FRAME_SIZE - envelope - FRAME_EXTRAS) / 4) * 3;
})();

/** More than this in flight buys nothing: two already keep the line busy while the device writes. */
const MAX_WINDOW = 8;

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a number of seconds: ${value}`);
  return n;
}

function chunkSize(value: string): number {
  const n = Number(value);
  // 512 is mos's default; the largest keeps the base64 frame within the device's 4096-byte limit.
  if (!Number.isInteger(n) || n < 16 || n > MAX_CHUNK_SIZE) throw new InvalidArgumentError(`chunk size must be 16..${MAX_CHUNK_SIZE} bytes`);
  return n;
}

function windowSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW) throw new InvalidArgumentError(`window must be 1..${MAX_WINDOW} writes`);
  return n;
}

export function registerOtaCommand(program: Command): void {
  program
    .command("ota")
    .description("update the device with a firmware package (fw.zip), as mos ota does")
    .argument("<file>", "the fw.zip to send")
    .option("--commit-timeout <s>", "seconds the new firmware has to be committed (OTA.Commit) before it reverts; 0 commits at first boot", seconds, 300)
    .option("--update-timeout <duration>", "give up when the device makes no progress for this long", (v) => parseDurationMs(v), 600_000)
    .option("--chunk-size <bytes>", `bytes per OTA.Write (up to ${MAX_CHUNK_SIZE})`, chunkSize, 512)
    .option(
      "--window <n>",
      "OTA.Write requests in flight; more than 1 needs a device that buffers a whole frame while it writes the last " +
        "(the virtual board does; an ESP32 reading its UART through Moddable's serial driver has a 128-byte FIFO)",
      windowSize,
      1,
    )
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
    await writeChunks(client, zip, options, (done) => bar.update(done));
  } catch (e) {
    bar.stop();
    // Leave the device idle rather than waiting for its watchdog.
    await client.call("OTA.End").catch(() => undefined);
    throw e;
  }
  bar.stop();
  await client.call("OTA.End");
}

interface Write {
  readonly offset: number;
  /** Settles with the failure, if any: a write behind a failed one is not to be awaited as an exception. */
  readonly failure: Promise<Error | undefined>;
}

/**
 * OTA.Write every chunk in order, up to `window` in flight. The oldest write
 * decides: when it succeeds the next goes out; when it fails, the writes
 * behind it are let settle (the device refuses them as out of order), and it
 * is sent again, with those behind it, up to WRITE_ATTEMPTS times.
 */
async function writeChunks(client: RpcClient, zip: Buffer, options: OtaOptions, progress: (done: number) => void): Promise<void> {
  const write = (offset: number): Write => {
    const data = zip.subarray(offset, offset + options.chunkSize).toString("base64");
    return { offset, failure: client.call("OTA.Write", { offset, data }).then(() => undefined, (e: Error) => e) };
  };
  const attempts = new Map<number, number>();
  const inFlight: Write[] = [];
  let next = 0;
  while (next < zip.length || inFlight.length > 0) {
    for (; inFlight.length < options.window && next < zip.length; next += options.chunkSize) inFlight.push(write(next));
    const oldest = inFlight.shift()!;
    const failure = await oldest.failure;
    if (!failure) {
      progress(Math.min(oldest.offset + options.chunkSize, zip.length));
      continue;
    }
    await Promise.all(inFlight.splice(0).map((w) => w.failure));
    // A device error is final; a lost reply or frame is worth another try.
    const attempt = (attempts.get(oldest.offset) ?? 1) + 1;
    const retryable = failure instanceof TimeoutError || failure instanceof TransportError;
    if (!retryable || attempt > WRITE_ATTEMPTS) {
      throw new TransportError(`write failed at offset ${oldest.offset}: ${failure.message}`);
    }
    attempts.set(oldest.offset, attempt);
    next = oldest.offset;
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
