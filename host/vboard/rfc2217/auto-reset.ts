// The auto-reset circuit of an ESP32 DevKitC (and of most ESP32 boards with
// a USB-serial chip): two transistors cross-coupled between the chip's DTR
// and RTS outputs and the ESP32's EN and GPIO0 pins (the DevKitC-V4
// schematic, Q1/Q2 on "DTR"/"RTS"):
//
//   RTS asserted, DTR not   EN low: the chip is held in reset
//   DTR asserted, RTS not   GPIO0 low: a reset ends in the ROM's download mode
//   both, or neither        EN and GPIO0 high (pulled up): nothing happens
//
// The chip leaves reset when EN rises and latches GPIO0 then. esptool makes
// that happen by moving DTR and RTS microseconds apart (reset.py's
// ClassicReset: DTR off, RTS on, 100 ms, DTR on, RTS off, 50 ms, DTR off).
// Over RFC 2217 each change is a message, and pySerial waits for the
// server's answer (or 100 ms with ?ign_set_control) before the next, so the
// state between the two changes of a pair (both asserted: EN already high,
// GPIO0 not yet low) lasts 50-100 ms instead of microseconds. The circuit
// therefore takes GPIO0 as latched low when it goes low within
// STRAP_WINDOW_MS after EN rose; if it stays high that long, the chip boots
// from flash. That keeps both of esptool's sequences (and a hand-driven
// RTS pulse, its --after hard_reset) meaning what they mean on a bench, and
// opening a port, which asserts DTR then RTS, resets nothing, as on a DevKitC.

/** How long after EN rises a low GPIO0 still selects download mode (see the header). */
export const STRAP_WINDOW_MS = 500;

export interface ModemLines {
  readonly dtr: boolean;
  readonly rts: boolean;
}

export type BootMode = "download" | "flash";

export interface ChipPins {
  /** EN went low: the chip stops where it is (power is still on, nothing runs). */
  hold(): void;
  /** EN is high and the strapping latched: boot into the ROM's download mode or from flash. */
  release(mode: BootMode): void;
}

export class AutoResetCircuit {
  readonly #chip: ChipPins;
  readonly #windowMs: number;
  /** A closed port drives neither line: EN and GPIO0 are pulled high and the chip runs. */
  #lines: ModemLines = { dtr: false, rts: false };
  #held = false;
  #latch: NodeJS.Timeout | undefined;

  constructor(chip: ChipPins, windowMs = STRAP_WINDOW_MS) {
    this.#chip = chip;
    this.#windowMs = windowMs;
  }

  get lines(): ModemLines {
    return this.#lines;
  }

  /** EN is low, or rose less than the strapping window ago: nothing runs. */
  get inReset(): boolean {
    return this.#held || this.#latch !== undefined;
  }

  set(lines: Partial<ModemLines>): void {
    this.#lines = { ...this.#lines, ...lines };
    const { dtr, rts } = this.#lines;
    const enLow = rts && !dtr;
    const gpio0Low = dtr && !rts;
    if (enLow) {
      const running = !this.inReset;
      this.#cancelLatch();
      this.#held = true;
      if (running) this.#chip.hold();
      return;
    }
    if (this.#held) {
      this.#held = false;
      this.#latch = setTimeout(() => this.#boot("flash"), this.#windowMs);
    }
    if (gpio0Low && this.#latch !== undefined) this.#boot("download");
  }

  /** The port went away: its lines float back to neither asserted. */
  release(): void {
    this.set({ dtr: false, rts: false });
  }

  close(): void {
    this.#cancelLatch();
  }

  #boot(mode: BootMode): void {
    this.#cancelLatch();
    this.#chip.release(mode);
  }

  #cancelLatch(): void {
    clearTimeout(this.#latch);
    this.#latch = undefined;
  }
}
