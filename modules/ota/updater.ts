// One update at a time, from whatever source (OTA.Update's download or the
// push API of mos ota): bytes -> zip reader -> the app part, checked as an app
// image, into the inactive slot (hashed on its way by the native write) ->
// digests checked -> the slot boots next, on trial. Memory stays constant in
// the image size: data passes through as views of the incoming chunks, which
// the native write gathers into whole flash sectors off the XS heap. Any
// failure aborts the slot write and leaves the boot state as it was.

import { OtaState, type SlotsPort, type WrittenDigests } from "platform/ports";
import { log } from "sys/log";
import type { BootStatePolicy } from "ota/boot-state";
import { planUpdate, type UpdatePlan } from "ota/fw-manifest";
import { AppImageCheck, HASH_SIZE, runningChipId } from "ota/image-check";
import { UpdateCode, UpdateError } from "ota/update-error";
import { ZipStreamReader, type ZipEntry } from "ota/zip-stream";

/** OTA.Status states (struct mgos_ota_status). */
export const UpdateState = { IDLE: 0, PROGRESS: 1, ERROR: 2, SUCCESS: 3 } as const;
export type UpdateState = (typeof UpdateState)[keyof typeof UpdateState];

const STATE_NAMES = ["idle", "progress", "error", "success"];

export interface UpdateOptions {
  /** Seconds the new image has to be committed after its first boot (0: commit at once). */
  commitTimeout: number;
  /** Package size when known, for progress. */
  size?: number;
  /** Abort when no byte arrives for this long. */
  inactivityTimeoutMs: number;
}

export interface UpdaterTimers {
  /** Run `callback` after `ms`; returns a cancel function. */
  after(ms: number, callback: () => void): () => void;
  /** Milliseconds on a clock that only moves forward (the board's uptime). */
  now(): number;
}

export interface UpdateStatus {
  state: UpdateState;
  message: string;
  progress_percent: number;
}

/** Everything an update in progress holds; dropped as a whole when it ends. */
class Session {
  readonly reader: ZipStreamReader;
  readonly options: UpdateOptions;
  readonly target: number;
  plan: UpdatePlan | undefined;
  handle: number | undefined;
  appEntry: ZipEntry | undefined;
  image: AppImageCheck | undefined;
  appWritten = false;
  /**
   * The target slot already holds the manifest's image: the app's bytes are
   * compared with it instead of written, up to this offset so far.
   */
  compared: number | undefined;
  cancelWatchdog: () => void = () => {};
  /** When bytes last arrived, by UpdaterTimers.now(): the watchdog's measure of progress. */
  lastDataAt = 0;
  /** Told when the update fails on its own (watchdog) or is aborted, so its source stops too. */
  onFail: (error: UpdateError) => void = () => {};
  constructor(reader: ZipStreamReader, options: UpdateOptions, target: number) {
    this.reader = reader;
    this.options = options;
    this.target = target;
  }
}

export class Updater {
  readonly #slots: SlotsPort;
  readonly #boot: BootStatePolicy;
  readonly #timers: UpdaterTimers;
  #session: Session | undefined;
  #state: UpdateState = UpdateState.IDLE;
  #message = "";
  #progress = 0;

  constructor(slots: SlotsPort, boot: BootStatePolicy, timers: UpdaterTimers) {
    this.#slots = slots;
    this.#boot = boot;
    this.#timers = timers;
  }

  get inProgress(): boolean {
    return this.#session !== undefined;
  }

  status(): UpdateStatus {
    return { state: this.#state, message: this.#message || STATE_NAMES[this.#state]!, progress_percent: this.#progress };
  }

  /** Why a new update cannot start now (Mongoose's gate), or undefined when it can. */
  refusal(): string | undefined {
    if (this.#session) return "Update already in progress";
    if (!this.#boot.isCommitted()) return "Previous update has not been committed yet";
    return undefined;
  }

  begin(options: UpdateOptions, onFail?: (error: UpdateError) => void): void {
    const refusal = this.refusal();
    if (refusal) throw new UpdateError(UpdateCode.FAILED, refusal);
    const running = this.#slots.running();
    let target = -1;
    for (let slot = 0; slot < this.#slots.count() && target < 0; slot++) if (slot !== running) target = slot;
    if (target < 0) throw new UpdateError(UpdateCode.FAILED, "No app slot to update");
    const session: Session = new Session(
      new ZipStreamReader(
        {
          onManifest: (bytes) => this.#onManifest(session, bytes),
          onEntry: (entry) => this.#onEntry(session, entry),
          onData: (bytes) => this.#write(session, bytes),
          onEntryEnd: (entry) => this.#onEntryEnd(session, entry),
          onEnd: () => {
            if (!session.appWritten) throw new UpdateError(UpdateCode.INCOMPLETE_PACKAGE, `the package has no ${session.plan?.app.src ?? "app"} entry`);
          },
        },
        (bytes, seed) => this.#slots.crc32(bytes, seed),
      ),
      options,
      target,
    );
    if (onFail) session.onFail = onFail;
    this.#session = session;
    this.#set(UpdateState.PROGRESS, "", 0);
    session.lastDataAt = this.#timers.now();
    this.#watch(session, options.inactivityTimeoutMs);
    log.info("ota", `update started: slot ${target}, commit_timeout ${options.commitTimeout} s`);
  }

  /** The package has been read to its end (the zip's central directory). */
  get complete(): boolean {
    return this.#session?.reader.isComplete ?? false;
  }

  /** Bytes received so far by the zip reader. */
  get received(): number {
    return this.#session?.reader.bytesConsumed ?? 0;
  }

  /** Feed the next bytes of the package; throws the UpdateError that ended the update. */
  feed(bytes: Uint8Array): void {
    const session = this.#active();
    try {
      session.reader.push(bytes);
    } catch (e) {
      throw this.#fail(session, UpdateError.from(e));
    }
    session.lastDataAt = this.#timers.now();
    const size = session.options.size;
    if (size) this.#progress = Math.min(99, Math.floor((session.reader.bytesConsumed * 100) / size));
  }

  /**
   * All bytes are in: check, then make the new slot boot next on trial. The
   * caller reboots. Throws (and aborts) when the package was not complete.
   */
  finish(): number {
    const session = this.#active();
    if (!session.reader.isComplete) throw this.#fail(session, new UpdateError(UpdateCode.NOT_ALL_DATA));
    try {
      this.#boot.startTrial(session.target, session.options.commitTimeout);
    } catch (e) {
      throw this.#fail(session, new UpdateError(UpdateCode.FAILED, `cannot switch to slot ${session.target}: ${(e as Error).message}`));
    }
    session.cancelWatchdog();
    this.#session = undefined;
    this.#set(UpdateState.SUCCESS, "Update applied, finalizing", 100);
    log.info("ota", `update applied: slot ${session.target} (${session.plan?.version}) boots next`);
    return session.target;
  }

  /** Stop the update in progress; the slot write is abandoned, the boot state untouched. */
  abort(error: UpdateError = new UpdateError(UpdateCode.ABORTED)): UpdateError {
    return this.#session ? this.#fail(this.#session, error) : error;
  }

  #active(): Session {
    if (!this.#session) throw new UpdateError(UpdateCode.FAILED, "No update in progress");
    return this.#session;
  }

  #set(state: UpdateState, message: string, progress: number): void {
    this.#state = state;
    this.#message = message;
    this.#progress = progress;
  }

  /**
   * The progress watchdog: one timer, not one per chunk. A chunk is about a
   * TCP segment, and a timer with its closures for each cost the heap a
   * collection every few segments. When the timer fires, it looks at when
   * bytes last came and waits out the rest of the timeout from then.
   */
  #watch(session: Session, ms: number): void {
    session.cancelWatchdog = this.#timers.after(ms, () => {
      const timeout = session.options.inactivityTimeoutMs;
      const idle = this.#timers.now() - session.lastDataAt;
      if (idle >= timeout) this.#fail(session, new UpdateError(UpdateCode.TIMED_OUT, `no data for ${timeout / 1000} s`));
      else this.#watch(session, Math.ceil(timeout - idle));
    });
  }

  #fail(session: Session, error: UpdateError): UpdateError {
    if (this.#session !== session) return error;
    session.cancelWatchdog();
    if (session.handle !== undefined) {
      try {
        this.#slots.abort(session.handle);
      } catch {
        // The write is abandoned either way; the slot is not bootable.
      }
    }
    this.#session = undefined;
    this.#set(UpdateState.ERROR, error.message, this.#progress);
    log.error("ota", `update failed: ${error.code} ${error.message}`);
    session.onFail(error);
    return error;
  }

  #onManifest(session: Session, bytes: Uint8Array): void {
    session.plan = planUpdate(bytes);
    log.info("ota", `package ${session.plan.version} (${session.plan.buildId})`);
  }

  #onEntry(session: Session, entry: ZipEntry): "process" | "skip" {
    const app = session.plan!.app;
    if (entry.name !== app.src) return "skip";
    if (app.size !== undefined && app.size !== entry.size) {
      throw new UpdateError(UpdateCode.INVALID_MANIFEST, `${app.src} is ${entry.size} bytes, the manifest says ${app.size}`);
    }
    const slotSize = this.#slots.info(session.target).size;
    // Checked before esp_ota_begin erases anything.
    if (entry.size > slotSize) throw new UpdateError(UpdateCode.IMAGE_TOO_BIG, `${app.src} is ${entry.size} bytes, slot ${session.target} holds ${slotSize}`);
    session.image = new AppImageCheck({
      name: app.src,
      size: entry.size,
      chipId: runningChipId(this.#slots),
      checksum: (bytes, seed) => this.#slots.imageChecksum(bytes, seed),
    });
    session.appEntry = entry;
    if (this.#alreadyThere(session, entry)) {
      // The package's own bytes are still read and checked (CRC, size, the
      // archive's end) and compared with the slot: only the erase and the
      // write are saved.
      log.info("ota", `slot ${session.target} already holds this image: checking the package against it, not rewriting it`);
      session.compared = 0;
    }
    return "process";
  }

  /**
   * esp_ota_begin erases the slot, so it waits for the app's first bytes,
   * which the image check has seen by then: a file that is no app image (its
   * first byte), or one for another chip (when the first piece reaches the
   * chip id, as it does unless a chunk ends within the first 14 bytes),
   * leaves the slot as it was.
   */
  #begin(session: Session): number {
    const app = session.plan!.app;
    try {
      return this.#slots.begin(session.target, session.appEntry!.size, { sha1: app.sha1 !== undefined, sha256: app.sha256 !== undefined });
    } catch (e) {
      throw new UpdateError(UpdateCode.WRITE_FAILED, `Failed to start app write: ${(e as Error).message}`);
    }
  }

  /** The target slot holds exactly this image and may boot: no need to erase and rewrite it. */
  #alreadyThere(session: Session, entry: ZipEntry): boolean {
    const info = this.#slots.info(session.target);
    if (!info.valid || info.state === OtaState.INVALID || info.state === OtaState.ABORTED) return false;
    const app = session.plan!.app;
    if (app.sha256) return this.#slots.digest(session.target, 0, entry.size, "sha256") === app.sha256;
    return app.sha1 !== undefined && this.#slots.digest(session.target, 0, entry.size, "sha1") === app.sha1;
  }

  #write(session: Session, bytes: Uint8Array): void {
    session.image!.push(bytes);
    if (session.compared !== undefined) {
      this.#compare(session, bytes);
      return;
    }
    session.handle ??= this.#begin(session);
    try {
      this.#slots.write(session.handle, bytes);
    } catch (e) {
      throw new UpdateError(UpdateCode.WRITE_FAILED, (e as Error).message);
    }
  }

  /** The slot already holds the manifest's digest: bytes that differ from it cannot have that digest. */
  #compare(session: Session, bytes: Uint8Array): void {
    const offset = session.compared!;
    const held = new Uint8Array(this.#slots.read(session.target, offset, bytes.length));
    for (let i = 0; i < bytes.length; i++) {
      if (held[i] !== bytes[i]) {
        throw new UpdateError(UpdateCode.DIGEST_MISMATCH, `${session.plan!.app.src} differs from its manifest's digest at byte ${offset + i}`);
      }
    }
    session.compared = offset + bytes.length;
  }

  #onEntryEnd(session: Session, entry: ZipEntry): void {
    session.image!.end();
    if (session.compared !== undefined) {
      // The zip reader has checked the entry's CRC and length by now.
      session.appWritten = true;
      return;
    }
    if (session.handle === undefined) return;
    const handle = session.handle;
    session.handle = undefined;
    let written: WrittenDigests;
    try {
      written = this.#slots.end(handle);
    } catch (e) {
      throw this.#appendedHashError(session) ?? new UpdateError(UpdateCode.WRITE_FAILED, `Failed to finalize app write: ${(e as Error).message}`);
    }
    const app = session.plan!.app;
    const actual = this.#slotDigests(session, entry, written);
    for (const algorithm of ["sha1", "sha256"] as const) {
      const expected = app[algorithm];
      if (expected && actual[algorithm] !== expected) {
        throw new UpdateError(UpdateCode.DIGEST_MISMATCH, `${algorithm} of slot ${session.target} is ${actual[algorithm]}, the manifest says ${expected}`);
      }
    }
    session.appWritten = true;
  }

  /**
   * The manifest's digests of what the slot holds. esp_ota_end has just read
   * the image back and checked it against its appended SHA-256, when it has
   * one: if that covers the whole file, the flash holds the bytes written,
   * and their digests, taken as they passed, are the slot's; one read of the
   * slot (150 ms for 1.5 MB on a W25Q32JV) is saved. Otherwise (no appended
   * SHA-256, where esp_ota_end checks only a one-byte checksum, or bytes
   * after the image) the slot is read back, once for both digests.
   */
  #slotDigests(session: Session, entry: ZipEntry, written: WrittenDigests): WrittenDigests {
    const appended = session.image!.appendedSha256;
    if (appended && appended.length + HASH_SIZE === entry.size) return written;
    const app = session.plan!.app;
    if (app.sha1 && app.sha256) return this.#slots.digests(session.target, 0, entry.size);
    if (app.sha256) return { sha256: this.#slots.digest(session.target, 0, entry.size, "sha256") };
    if (app.sha1) return { sha1: this.#slots.digest(session.target, 0, entry.size, "sha1") };
    return {};
  }

  /**
   * esp_ota_end refused an image that passed every check made while it
   * arrived: the error when the cause is its appended SHA-256, read back from
   * the slot as ESP-IDF reads it; undefined for another cause. Looked for
   * only then, so that a good update reads the slot no more often.
   */
  #appendedHashError(session: Session): UpdateError | undefined {
    const appended = session.image!.appendedSha256;
    if (!appended) return undefined;
    const actual = this.#slots.digest(session.target, 0, appended.length, "sha256");
    if (actual === appended.hex) return undefined;
    return new UpdateError(
      UpdateCode.DIGEST_MISMATCH,
      `${session.plan!.app.src} SHA-256 differs from the one appended to the image: appended ${appended.hex}, computed ${actual}`,
    );
  }
}
