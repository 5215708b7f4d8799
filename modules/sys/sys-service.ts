// Sys.GetInfo and Sys.Reboot (spec/mos-rpc.md §5), plus the reboot lockout:
// during the last 100 ms before a scheduled reboot every call is refused
// with 418, so no client believes a call succeeded that the reset cut off.

import { RpcError, type Dispatcher } from "rpc/dispatcher";
import { argsObject, optionalBoolean, optionalInteger } from "rpc/args";
import type { AppDescription, HeapStats } from "platform/ports";
import { buildId } from "sys/identity";

export interface SysBoard {
  readonly deviceId: string;
  readonly mac: string;
  readonly app: AppDescription;
  /** esp_image_header_t chip id the board runs (ota/image-check runningChipId); undefined when unknown. */
  readonly chipId: number | undefined;
  uptimeUs(): number;
  heap(): HeapStats;
  /** Run `callback` once after `ms` milliseconds. */
  after(ms: number, callback: () => void): void;
  restart(): void;
}

const LOCKOUT_MS = 100;

export interface SysService {
  /** Restart after `delayMs`, with the lockout before it; what Sys.Reboot does, for other services (Config.Set). */
  rebootAfter(delayMs: number): void;
}

export function installSysService(rpc: Dispatcher, board: SysBoard): SysService {
  let rebootAtMs: number | undefined;
  const nowMs = () => board.uptimeUs() / 1000;
  const rebootAfter = (delayMs: number) => {
    rebootAtMs = nowMs() + delayMs;
    board.after(delayMs, () => board.restart());
  };

  rpc.addPrehandler(() => {
    if (rebootAtMs === undefined) return undefined;
    const left = Math.max(0, Math.ceil(rebootAtMs - nowMs()));
    return left <= LOCKOUT_MS ? { code: 418, message: `shutting down in ${left} ms` } : undefined;
  });

  rpc.add("Sys.GetInfo", "", () => {
    const heap = board.heap();
    return {
      id: board.deviceId,
      app: board.app.projectName,
      fw_version: board.app.version,
      fw_id: buildId(board.app.date, board.app.time, board.app.version),
      mac: board.mac,
      arch: "esp32",
      // Not in Mongoose OS: arch is "esp32" on the virtual board too, so
      // clients (xs-ota ota) tell the chips apart by this, the chip id
      // images must carry to be accepted here. Absent when unknown.
      chip_id: board.chipId,
      uptime: Math.floor(board.uptimeUs() / 1e6),
      ram_size: heap.size,
      ram_free: heap.size - heap.used,
      ram_min_free: heap.size - heap.peak,
      fs_size: 0,
      fs_free: 0,
    };
  });

  rpc.add("Sys.Reboot", "{delay_ms: %d}", (rawArgs) => {
    const args = argsObject(rawArgs);
    const delay = optionalInteger(args, "delay_ms") ?? LOCKOUT_MS;
    // `abort` asks Mongoose for a crash dump; a plain restart is what we can honestly do.
    optionalBoolean(args, "abort");
    if (delay < 0) throw new RpcError(400, "invalid delay value");
    rebootAfter(delay);
    return null;
  });
  return { rebootAfter };
}
