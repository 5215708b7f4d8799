// The Mongoose boot-state model (spec/mos-rpc.md §1.3-1.7, §4) on ESP-IDF's
// native rollback (DESIGN.md "Boot state"):
//
// - active_slot is the slot otadata boots next; it is uncommitted while its
//   otadata state is NEW or PENDING_VERIFY *and* the boot record names it as
//   the trial slot (a slot set to boot on purpose, committed, is also NEW
//   until it boots; the boot guard accepts it then).
// - Any reset of an uncommitted trial boot rolls back in the bootloader;
//   nothing here has to run for that.
// - GetBootState is derived from otadata and the record each time, never
//   remembered in JavaScript.
//
// Every change writes the record before otadata, so a power cut between the
// two leaves a state the boot guard resolves to what was there before.

import { RpcError } from "rpc/dispatcher";
import { OtaState, type RecordStore, type SlotsPort } from "platform/ports";
import { log } from "sys/log";
import { readBootRecord, writeBootRecord, type BootRecord } from "ota/boot-record";

export interface BootState {
  active_slot: number;
  is_committed: boolean;
  revert_slot: number;
  commit_timeout: number;
}

const isPending = (state: number) => state === OtaState.NEW || state === OtaState.PENDING_VERIFY;

export class BootStatePolicy {
  readonly #slots: SlotsPort;
  readonly #store: RecordStore;

  constructor(slots: SlotsPort, store: RecordStore) {
    this.#slots = slots;
    this.#store = store;
  }

  /** The slot booting next: otadata's choice, or the running one when otadata is blank. */
  #active(): number {
    const boot = this.#slots.boot();
    return boot >= 0 ? boot : this.#slots.running();
  }

  read(): BootState {
    const record = readBootRecord(this.#store);
    const active = this.#active();
    const committed = !(record.trial === active && isPending(this.#slots.info(active).state));
    return {
      active_slot: active,
      is_committed: committed,
      revert_slot: record.revert ?? active,
      commit_timeout: committed ? 0 : record.commitTimeout,
    };
  }

  isCommitted(): boolean {
    return this.read().is_committed;
  }

  /**
   * The boot guard, first thing at every boot: a trial boot commits at once
   * (timeout 0) or arms the native rollback timer; anything else pending is
   * accepted; a trial that the bootloader rolled back is forgotten, loudly.
   */
  atBoot(): void {
    const running = this.#slots.running();
    const state = this.#slots.info(running).state;
    const record = readBootRecord(this.#store);
    if (isPending(state)) {
      if (record.trial === running && record.commitTimeout > 0) {
        this.#slots.armRollbackTimer(record.commitTimeout * 1000);
        log.warn("ota", `slot ${running} is not committed: OTA.Commit within ${record.commitTimeout} s or it reverts to slot ${record.revert ?? "?"}`);
        return;
      }
      this.#slots.markValid();
      writeBootRecord(this.#store, { revert: record.revert, commitTimeout: 0 });
      log.info("ota", record.trial === running ? `slot ${running} committed at first boot (commit_timeout 0)` : `slot ${running} accepted`);
      return;
    }
    if (record.trial !== undefined) {
      if (record.trial !== running) {
        const trialState = this.#slots.info(record.trial).state;
        const rolledBack = trialState === OtaState.ABORTED || trialState === OtaState.INVALID;
        log.warn("ota", rolledBack ? `update in slot ${record.trial} was not committed: reverted to slot ${running}` : `update to slot ${record.trial} was not applied`);
      }
      writeBootRecord(this.#store, { revert: record.revert, commitTimeout: 0 });
    }
  }

  /** OTA.Commit: error -1 when there is nothing to commit. */
  commit(): void {
    const state = this.read();
    if (state.is_committed) throw new RpcError(-1);
    if (state.active_slot === this.#slots.running()) {
      this.#slots.markValid();
      this.#slots.disarmRollbackTimer();
    }
    writeBootRecord(this.#store, { revert: state.revert_slot, commitTimeout: 0 });
    log.info("ota", `slot ${state.active_slot} committed`);
  }

  /**
   * OTA.Revert, the part after the reply: make the revert slot boot next.
   * When the trial is running, ESP-IDF marks it invalid and reboots at once;
   * otherwise the caller restarts.
   */
  revert(): void {
    const state = this.read();
    const running = this.#slots.running();
    log.warn("ota", `reverting to slot ${state.revert_slot}`);
    writeBootRecord(this.#store, { revert: state.revert_slot, commitTimeout: 0 });
    if (state.revert_slot !== state.active_slot) {
      if (state.active_slot === running) this.#slots.markInvalidAndReboot();
      this.#slots.setBoot(state.revert_slot);
    }
  }

  /** OTA.Revert's check, before replying: error -1 when committed. */
  assertRevertible(): void {
    if (this.isCommitted()) throw new RpcError(-1);
  }

  /** A new image in `slot` boots next, on trial; the current slot is where it goes back to. */
  startTrial(slot: number, commitTimeout: number): void {
    this.#write({ trial: slot, revert: this.#slots.running(), commitTimeout }, slot);
  }

  /**
   * OTA.SetBootState: the given fields over the current state. Slots must
   * exist and hold a valid image (-3); an uncommitted state needs a revert
   * slot other than the active one (-3).
   */
  set(update: Partial<BootState>): void {
    const next = { ...this.read(), ...update };
    for (const slot of [next.active_slot, next.revert_slot]) this.#checkSlot(slot);
    if (next.commit_timeout < 0) throw new RpcError(-4, "commit_timeout must not be negative");
    if (next.is_committed) {
      const record: BootRecord = { revert: next.revert_slot, commitTimeout: 0 };
      writeBootRecord(this.#store, record);
      if (next.active_slot !== this.#active()) this.#slots.setBoot(next.active_slot);
      else if (isPending(this.#slots.info(next.active_slot).state) && next.active_slot === this.#slots.running()) this.#slots.markValid();
      return;
    }
    if (next.revert_slot === next.active_slot) throw new RpcError(-3, "an uncommitted state needs a revert_slot other than active_slot");
    this.#write({ trial: next.active_slot, revert: next.revert_slot, commitTimeout: next.commit_timeout }, next.active_slot);
  }

  #checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots.count()) throw new RpcError(-3, `no slot ${slot}`);
    if (!this.#slots.info(slot).valid) throw new RpcError(-3, `slot ${slot} holds no valid image`);
  }

  /**
   * Record first, then otadata. ESP-IDF writes a new boot choice into the
   * other otadata sector and keeps the current one as the fallback, so when
   * the bootloader aborts the trial it boots the fallback: the revert slot's
   * entry is written first unless it is the current choice already.
   */
  #write(record: BootRecord, trial: number): void {
    writeBootRecord(this.#store, record);
    if (record.revert !== undefined && record.revert !== trial && record.revert !== this.#slots.boot()) this.#slots.setBoot(record.revert);
    this.#slots.setBoot(trial);
  }
}
