// What `xs-ota flash` writes where. A board gets, as `idf.py flash` would
// give it: the second-stage bootloader (when there is one: the virtual board
// emulates its bootloader instead) where the chip's ROM looks for it (0x1000
// on the ESP32 and ESP32-S2, 0 on later chips), the partition table at
// 0x8000, an erased otadata (so the board boots the new app, not an old OTA
// slot) and the app in the partition a blank otadata boots (factory, else
// ota_0). Files are told apart by their content, not their names.
//
// Sources, first match wins: a fw.zip (every part where its manifest says, as
// mos flash writes it: fw-zip-plan.ts), an ESP-IDF build directory (its
// flasher_args.json lists every file and offset), a directory or a list of
// files (app image, bootloader image, partition table binary), or nothing:
// this repository's firmware for the virtual board, built now.

import fs from "node:fs";
import path from "node:path";
import {
  APP_DESC_MAGIC,
  ChipId,
  IMAGE_MAGIC,
  PARTITION_MAGIC,
  PARTITION_TABLE_OFFSET,
  DataSubtype,
  PartitionType,
  decodeImageHeader,
  decodePartitionTable,
  encodePartitionTable,
  firstBootPartition,
  hex,
  parsePartitionsCsv,
  verifyAppImage,
  type Partition,
} from "../fwpack/index.ts";
import { isZip, planFwZip } from "./fw-zip-plan.ts";

export interface FlashImage {
  /** What it is, for messages: "bootloader", "partition table", "otadata", "app". */
  readonly name: string;
  readonly address: number;
  readonly data: Uint8Array;
}

export interface FlashPlan {
  readonly images: FlashImage[];
  /** The chip the images are built for (esp_image_header_t chip_id); undefined when nothing says. */
  readonly chipId?: number;
}

/** Where each chip's ROM loads the second-stage bootloader from. */
function bootloaderOffset(chipId: number): number {
  return chipId === ChipId.ESP32 || chipId === ChipId.ESP32S2 ? 0x1000 : 0;
}

/** The inputs cannot make a flash: the message says which and why (exit status 2). */
export class FlashPlanError extends Error {
  override readonly name = "FlashPlanError";
}

export interface PlanSources {
  /** --image: a fw.zip, files, or one directory. Empty: build the default app. */
  paths: readonly string[];
  /** The table used when no partition table binary is given. */
  partitionsCsv: string;
  /** The app flashed when none is given. */
  defaultApp: () => Promise<Uint8Array>;
}

type Kind = "app" | "bootloader" | "partition table";

export async function planFlash(sources: PlanSources): Promise<FlashPlan> {
  const files = expand(sources.paths);
  if (files.flasherArgs) return fromFlasherArgs(files.flasherArgs);
  const found = new Map<Kind, { file: string; data: Buffer }>();
  for (const file of files.list) {
    const data = read(file);
    if (isZip(data)) {
      if (sources.paths.length > 1) throw new FlashPlanError(`${file} is a fw.zip: it holds every part and is flashed on its own`);
      return planFwZip(file, data);
    }
    const kind = classify(data);
    if (!kind) throw new FlashPlanError(`${file} is neither an app image, a bootloader image nor a partition table`);
    const earlier = found.get(kind);
    if (earlier) throw new FlashPlanError(`two ${kind} files: ${earlier.file} and ${file}`);
    found.set(kind, { file, data });
  }
  const tableBytes = found.get("partition table")?.data ?? encodePartitionTable(parsePartitionsCsv(sources.partitionsCsv));
  const partitions = decodeTable(tableBytes, found.get("partition table")?.file);
  const app = found.get("app")?.data ?? (sources.paths.length ? undefined : await sources.defaultApp());
  if (!app) throw new FlashPlanError(`no app image among ${sources.paths.join(", ")}`);

  const slot = firstBootPartition(partitions);
  if (!slot) throw new FlashPlanError("the partition table has no factory or ota_0 partition for the app");
  const chipId = decodeImageHeader(app).chipId;
  try {
    verifyAppImage(app, { partitionSize: slot.size, chipId });
  } catch (e) {
    throw new FlashPlanError(`the app image does not fit or verify for partition "${slot.name}": ${(e as Error).message}`);
  }

  const images: FlashImage[] = [];
  const bootloader = found.get("bootloader");
  if (bootloader) {
    if (decodeImageHeader(bootloader.data).chipId !== chipId) throw new FlashPlanError(`${bootloader.file} and the app are built for different chips`);
    images.push({ name: "bootloader", address: bootloaderOffset(chipId), data: bootloader.data });
  }
  images.push({ name: "partition table", address: PARTITION_TABLE_OFFSET, data: tableBytes });
  const otadata = partitions.find((p) => p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA);
  if (otadata) images.push({ name: "otadata", address: otadata.offset, data: Buffer.alloc(otadata.size, 0xff) });
  images.push({ name: `app (${slot.name})`, address: slot.offset, data: app });
  return { images, chipId };
}

function expand(paths: readonly string[]): { list: string[]; flasherArgs?: string } {
  if (paths.length === 1 && isDirectory(paths[0]!)) {
    const dir = paths[0]!;
    const flasherArgs = path.join(dir, "flasher_args.json");
    if (fs.existsSync(flasherArgs)) return { list: [], flasherArgs };
    const list = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith(".bin"))
      .map((name) => path.join(dir, name));
    if (!list.length) throw new FlashPlanError(`${dir} holds no .bin file and no flasher_args.json`);
    return { list };
  }
  for (const p of paths) if (isDirectory(p)) throw new FlashPlanError(`${p} is a directory: give one directory, or files`);
  return { list: [...paths] };
}

/** ESP-IDF's build/flasher_args.json: {"flash_files": {"0x1000": "bootloader/bootloader.bin", ...}}. */
function fromFlasherArgs(file: string): FlashPlan {
  let args: { flash_files?: Record<string, string> };
  try {
    args = JSON.parse(fs.readFileSync(file, "utf8")) as typeof args;
  } catch (e) {
    throw new FlashPlanError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const entries = Object.entries(args.flash_files ?? {});
  if (!entries.length) throw new FlashPlanError(`${file} lists no flash_files`);
  const images = entries
    .map(([offset, rel]) => {
      const data = read(path.join(path.dirname(file), rel));
      return { name: classify(data) ?? path.basename(rel), address: Number(offset), data };
    })
    .sort((a, b) => a.address - b.address);
  const app = images.find((i) => i.name === "app");
  return { images, chipId: app ? decodeImageHeader(app.data).chipId : undefined };
}

function classify(data: Buffer): Kind | undefined {
  if (data.length >= 2 && data.readUInt16LE(0) === PARTITION_MAGIC) return "partition table";
  if (data[0] !== IMAGE_MAGIC) return undefined;
  // An app's first segment starts with esp_app_desc_t (image offset 32); the bootloader's does not.
  return data.length >= 36 && data.readUInt32LE(32) === APP_DESC_MAGIC ? "app" : "bootloader";
}

function decodeTable(bytes: Uint8Array, file?: string): Partition[] {
  try {
    return decodePartitionTable(bytes).partitions;
  } catch (e) {
    throw new FlashPlanError(`${file ?? "the partition table"} is not a valid partition table: ${(e as Error).message}`);
  }
}

function read(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FlashPlanError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function describeImage(image: FlashImage): string {
  return `${image.name} at ${hex(image.address)} (${image.data.length} bytes)`;
}
