// The OTA.* RPC service (spec/mos-rpc.md §1): the pull update (OTA.Update),
// the push API mos ota uses (OTA.Status/Begin/Write/End), and the boot state
// (Commit, Revert, CreateSnapshot, GetBootState, SetBootState).

import { RpcError, type Dispatcher } from "rpc/dispatcher";
import { argsObject, optionalBoolean, optionalInteger, optionalString, type Args } from "rpc/args";
import type { HttpClientPort, SlotsPort } from "platform/ports";
import { log } from "sys/log";
import type { BootState, BootStatePolicy } from "ota/boot-state";
import { Download, urlRefusal } from "ota/downloader";
import { UpdateCode, UpdateError } from "ota/update-error";
import type { Updater } from "ota/updater";

export interface OtaServiceDeps {
  readonly slots: SlotsPort;
  readonly boot: BootStatePolicy;
  readonly updater: Updater;
  readonly http: HttpClientPort;
  /** Base64 text to bytes (native on the device). */
  decodeBase64(text: string): Uint8Array;
  /** After `ms` (the reply has gone out), run `prepare` if given, then restart. */
  rebootAfter(ms: number, prepare?: () => void): void;
  /** Headers a Mongoose device sends with its download (X-MGOS-Device-ID, ...). */
  readonly downloadHeaders: Readonly<Record<string, string>>;
}

/** Mongoose's update.timeout: the progress watchdog, in seconds. */
const DEFAULT_UPDATE_TIMEOUT_S = 600;
/** Long enough for the reply to leave on every channel before the reset. */
const REBOOT_DELAY_MS = 100;
/**
 * mgos keeps commit_timeout in a C int; past it, the native timer's int64
 * microseconds would overflow and fire at once, reverting the trial image.
 */
export const MAX_COMMIT_TIMEOUT_S = 0x7fffffff;

/** commit_timeout from `args`: absent, or seconds within 0..MAX_COMMIT_TIMEOUT_S (-1 too where it means "keep"). */
function commitTimeoutArg(args: Args, keepAllowed = false): number | undefined {
  const value = optionalInteger(args, "commit_timeout");
  if (value === undefined || (keepAllowed && value === -1)) return value;
  if (value < 0 || value > MAX_COMMIT_TIMEOUT_S) throw new RpcError(400, `commit_timeout must be 0..${MAX_COMMIT_TIMEOUT_S} seconds`);
  return value;
}

/** OTA.Update's error reply: the code, and "<code> <message>" as Mongoose OS words it. */
function updateRpcError(e: UpdateError): RpcError {
  return new RpcError(e.code, `${e.code} ${e.message}`);
}

export function installOtaService(rpc: Dispatcher, deps: OtaServiceDeps): void {
  const { boot, updater } = deps;

  const startUpdate = (args: Args, size: number | undefined) => {
    const commitTimeout = commitTimeoutArg(args) ?? 0;
    const timeout = optionalInteger(args, "timeout") ?? DEFAULT_UPDATE_TIMEOUT_S;
    // The watchdog's milliseconds go to a timer too: a day is more than any transfer needs.
    if (timeout <= 0 || timeout > 86_400) throw new RpcError(400, "timeout must be 1..86400 seconds");
    const refusal = updater.refusal();
    if (refusal) throw new RpcError(-1, refusal);
    return { commitTimeout, inactivityTimeoutMs: timeout * 1000, size };
  };

  const applied = () => {
    updater.finish();
    deps.rebootAfter(REBOOT_DELAY_MS);
  };

  rpc.add("OTA.Update", "{url: %T, commit_timeout: %d}", (raw) => {
    const args = raw === undefined || raw === null ? undefined : argsObject(raw);
    const url = args && args.url;
    if (!args || typeof url !== "string" || url === "") throw new RpcError(-1, "Malformed request");
    const options = startUpdate(args, undefined);
    // A URL the download cannot use is refused before the update starts (Mongoose
    // OS's "Failed to connect"): no slot is touched, and a long one is not logged.
    const refusal = urlRefusal(url);
    if (refusal) throw updateRpcError(new UpdateError(UpdateCode.CONNECT_FAILED, refusal));
    return new Promise<null>((resolve, reject) => {
      let download: Download | undefined;
      const fail = (e: UpdateError) => reject(updateRpcError(e));
      // Each failure path replies first: a throw in the cleanup after it must not cost the caller its answer.
      updater.begin(options, (e) => {
        fail(e);
        download?.cancel();
      });
      log.info("ota", `downloading ${url}`);
      download = new Download(
        deps.http,
        url,
        {
          get received() {
            return updater.received;
          },
          get complete() {
            return updater.complete;
          },
          feed: (bytes) => updater.feed(bytes),
        },
        (error) => {
          if (error) {
            fail(error);
            // Failures inside feed() have already ended the update; others end it here.
            updater.abort(error);
            return;
          }
          try {
            applied();
            resolve(null);
          } catch (e) {
            fail(UpdateError.from(e));
          }
        },
        { headers: deps.downloadHeaders },
      );
    });
  });

  rpc.add("OTA.Status", "", () => {
    const state = boot.read();
    return { ...updater.status(), is_committed: state.is_committed, commit_timeout: state.commit_timeout, partition: state.active_slot };
  });

  rpc.add("OTA.Begin", "{timeout: %d, commit_timeout: %d, size: %d}", (raw) => {
    const args = argsObject(raw);
    const size = optionalInteger(args, "size");
    updater.begin(startUpdate(args, size !== undefined && size > 0 ? size : undefined));
    return null;
  });

  rpc.add("OTA.Write", "{offset: %d, data: %Q}", (raw) => {
    const args = argsObject(raw);
    const data = optionalString(args, "data");
    if (data === undefined) throw new RpcError(400, "data is required");
    if (!updater.inProgress) throw new RpcError(-1, "No update in progress: call OTA.Begin");
    const bytes = deps.decodeBase64(data);
    const expected = updater.received;
    const offset = optionalInteger(args, "offset") ?? expected;
    // mos retries a write whose reply was lost with the same offset: those bytes are in already.
    if (offset < expected && offset + bytes.length <= expected) return null;
    if (offset !== expected) throw new RpcError(400, `unexpected offset ${offset}, expected ${expected}`);
    try {
      updater.feed(bytes);
    } catch (e) {
      const error = UpdateError.from(e);
      throw new RpcError(error.code, error.message);
    }
    return null;
  });

  rpc.add("OTA.End", "", () => {
    if (!updater.inProgress) throw new RpcError(-1, "No update in progress");
    if (!updater.complete) {
      const error = updater.abort();
      throw new RpcError(error.code, error.message);
    }
    try {
      applied();
    } catch (e) {
      const error = UpdateError.from(e);
      throw new RpcError(error.code, error.message);
    }
    return null;
  });

  rpc.add("OTA.Commit", "", () => {
    boot.commit();
    return null;
  });

  rpc.add("OTA.Revert", "", () => {
    boot.assertRevertible();
    // Reply first; the reboot follows.
    deps.rebootAfter(REBOOT_DELAY_MS, () => boot.revert());
    return null;
  });

  rpc.add("OTA.GetBootState", "", () => boot.read());

  rpc.add("OTA.SetBootState", "{active_slot: %d, is_committed: %B, revert_slot: %d, commit_timeout: %d}", (raw) => {
    const args = argsObject(raw);
    const update: Partial<BootState> = {};
    const active = optionalInteger(args, "active_slot");
    const committed = optionalBoolean(args, "is_committed");
    const revert = optionalInteger(args, "revert_slot");
    const timeout = commitTimeoutArg(args);
    if (active !== undefined) update.active_slot = active;
    if (committed !== undefined) update.is_committed = committed;
    if (revert !== undefined) update.revert_slot = revert;
    if (timeout !== undefined) update.commit_timeout = timeout;
    if (Object.keys(update).length === 0) throw new RpcError(-2);
    boot.set(update);
    return null;
  });

  rpc.add("OTA.CreateSnapshot", "{set_as_revert: %B, commit_timeout: %d}", (raw) => {
    const args = argsObject(raw);
    const setAsRevert = optionalBoolean(args, "set_as_revert") ?? false;
    const commitTimeout = commitTimeoutArg(args, true) ?? -1;
    if (!boot.isCommitted()) throw new RpcError(-1, "Cannot create snapshots in uncommitted state");
    if (updater.inProgress) throw new RpcError(-1, "Update already in progress");
    const slot = copyRunningSlot(deps.slots);
    if (setAsRevert) {
      const state = boot.read();
      boot.set({ is_committed: false, revert_slot: slot, commit_timeout: commitTimeout >= 0 ? commitTimeout : state.commit_timeout });
    }
    return { slot };
  });
}

const COPY_CHUNK = 4096;

/**
 * Copy the running image into the other slot, unless it is there already,
 * and check it by reading it back. Returns the snapshot's slot.
 */
function copyRunningSlot(slots: SlotsPort): number {
  const running = slots.running();
  let target = -1;
  for (let slot = 0; slot < slots.count() && target < 0; slot++) if (slot !== running) target = slot;
  if (target < 0) throw new RpcError(-1, "Failed to create snapshot: no other slot");
  const length = slots.imageLength(running);
  if (length <= 0) throw new RpcError(-1, "Failed to create snapshot: the running image does not verify");
  const digest = slots.digest(running, 0, length, "sha256");
  if (slots.info(target).valid && slots.imageLength(target) === length && slots.digest(target, 0, length, "sha256") === digest) {
    log.info("ota", `slot ${target} already holds a copy of slot ${running}`);
    return target;
  }
  let handle: number | undefined;
  try {
    handle = slots.begin(target, length);
    for (let offset = 0; offset < length; offset += COPY_CHUNK) slots.write(handle, slots.read(running, offset, Math.min(COPY_CHUNK, length - offset)));
    const h = handle;
    handle = undefined;
    slots.end(h);
  } catch (e) {
    if (handle !== undefined) slots.abort(handle);
    throw new RpcError(-1, `Failed to create snapshot: ${(e as Error).message}`);
  }
  if (slots.digest(target, 0, length, "sha256") !== digest) throw new RpcError(-1, "Failed to create snapshot: the copy does not read back the same");
  log.info("ota", `snapshot of slot ${running} in slot ${target}`);
  return target;
}
