// A fw.zip flashed as `mos flash` flashes it (mos cli/flash/esp/flasher/flash.go
// Flash() and sanityCheckImages()): every part, each where the package says.
// A part with `ptn` is placed by the package's own partition table (part
// `pt`): an app at its partition's start, any other part at the partition's
// offset plus its `addr`. Without `ptn`, at `addr`. A part with no file but
// `fill` is `size` fill bytes (size 0 with ptn: to the partition's end),
// as mos makes mgos's `nvs` part. The package's own checks (sizes, digests,
// the app image) must pass first.

import { FwZipError } from "../fwpack/fw-zip-error.ts";
import type { FwPart } from "../fwpack/fw-manifest.ts";
import { readFwZip, type FwZipPart } from "../fwpack/fw-zip.ts";
import { decodeImageHeader, decodePartitionTable, hex, verifyAppImage, type Partition } from "../fwpack/index.ts";
import { FlashPlanError, type FlashImage, type FlashPlan } from "./flash-plan.ts";

/** mos writes and checks whole flash sectors; a part must start on one. */
const SECTOR_SIZE = 0x1000;
const ZIP_MAGIC = 0x04034b50;

/** A zip's first local header, as a fw.zip starts. */
export function isZip(data: Uint8Array): boolean {
  return data.length >= 4 && Buffer.from(data.buffer, data.byteOffset, 4).readUInt32LE(0) === ZIP_MAGIC;
}

/** What messages call each part: the names planFlash gives the same images. */
function imageName(part: FwZipPart): string {
  switch (part.attrs.type) {
    case "boot":
      return "bootloader";
    case "pt":
      return "partition table";
    case "app":
      return `app (${part.attrs.ptn ?? part.name})`;
    default:
      return part.name;
  }
}

export function planFwZip(file: string, zip: Uint8Array): FlashPlan {
  let parts: FwZipPart[];
  try {
    parts = readFwZip(zip).parts;
  } catch (e) {
    if (e instanceof FwZipError) throw new FlashPlanError(`${file}: ${e.message}`);
    throw e;
  }
  const table = partitionTable(file, parts);
  const images = parts.map((part) => placePart(file, part, table)).sort((a, b) => a.address - b.address);
  const app = parts.find((part) => part.attrs.type === "app");
  const chipId = app?.app?.header.chipId;
  const boot = parts.find((part) => part.attrs.type === "boot");
  if (boot?.entry && chipId !== undefined && decodeImageHeader(boot.entry.data).chipId !== chipId) {
    throw new FlashPlanError(`${file}: its bootloader and its app are built for different chips`);
  }
  checkLayout(file, images);
  return { images, chipId };
}

/** The `pt` part's rows, which every `ptn` is looked up in; undefined when the package has none. */
function partitionTable(file: string, parts: readonly FwZipPart[]): Partition[] | undefined {
  const pt = parts.find((part) => part.name === "pt")?.entry;
  if (!pt) return undefined;
  try {
    return decodePartitionTable(pt.data).partitions;
  } catch (e) {
    throw new FlashPlanError(`${file}: part "pt" is not a valid partition table: ${(e as Error).message}`);
  }
}

function placePart(file: string, part: FwZipPart, table: Partition[] | undefined): FlashImage {
  const { ptn, addr = 0, size = 0, fill } = part.attrs as FwPart & { addr?: number; fill?: number };
  if (!Number.isInteger(addr) || addr < 0) throw new FlashPlanError(`${file}: part "${part.name}": addr ${JSON.stringify(addr)} is not a flash address`);
  let address = addr;
  let room: number | undefined;
  if (ptn !== undefined) {
    // mos's message, for a package made for OTA only.
    if (!table) throw new FlashPlanError(`${file}: no partition table in the fw bundle (part "pt"), needed to place part "${part.name}" in partition "${ptn}"`);
    const partition = table.find((p) => p.name === ptn);
    if (!partition) throw new FlashPlanError(`${file}: part "${part.name}": partition "${ptn}" not found in the package's partition table`);
    address = part.attrs.type === "app" ? partition.offset : partition.offset + addr;
    room = partition.offset + partition.size - address;
  }
  const data = part.entry?.data ?? filled(file, part, fill, size || room);
  if (part.attrs.type === "app" && room !== undefined) {
    try {
      verifyAppImage(data, { partitionSize: room, chipId: decodeImageHeader(data).chipId });
    } catch (e) {
      throw new FlashPlanError(`${file}: the app image does not fit or verify for partition "${ptn}": ${(e as Error).message}`);
    }
  }
  if (room !== undefined && data.length > room) throw new FlashPlanError(`${file}: part "${part.name}" is ${data.length} bytes, partition "${ptn}" has ${room} from ${hex(address)}`);
  return { name: imageName(part), address, data };
}

/** mos's FirmwarePart.GetData() for a part without a file. */
function filled(file: string, part: FwZipPart, fill: number | undefined, size: number | undefined): Buffer {
  if (fill === undefined || !size) throw new FlashPlanError(`${file}: part "${part.name}" has no file and no fill and size: nothing to write`);
  if (!Number.isInteger(fill) || fill < 0 || fill > 0xff) throw new FlashPlanError(`${file}: part "${part.name}": fill ${fill} is not a byte`);
  return Buffer.alloc(size, fill);
}

/** sanityCheckImages(): on sector boundaries, no overlap, the image at 0 an ESP image. */
function checkLayout(file: string, images: readonly FlashImage[]): void {
  images.forEach((image, i) => {
    if (image.address % SECTOR_SIZE !== 0) throw new FlashPlanError(`${file}: ${image.name} at ${hex(image.address)} does not start on a flash sector`);
    if (image.address === 0 && image.data[0] !== 0xe9) throw new FlashPlanError(`${file}: ${image.name} at 0x0 is not an ESP image (first byte 0xE9)`);
    const previous = images[i - 1];
    if (previous && previous.address + previous.data.length > image.address) {
      throw new FlashPlanError(`${file}: ${previous.name} at ${hex(previous.address)} and ${image.name} at ${hex(image.address)} overlap`);
    }
  });
}
