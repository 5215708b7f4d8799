// The registers esptool reads from an ESP32 in download mode, and nothing
// more: the chip magic, the eFuse words behind the chip description and the
// MAC, the APB date, the UART divider it derives the crystal from, and the
// SPI controller's user command, through which it reads the flash's JEDEC id
// (esptool-js lib/targets/esp32.js, runSpiflashCommand). Any other address
// reads back what was last written to it, or 0.

export const CHIP_DETECT_MAGIC_REG = 0x40001000;
export const ESP32_CHIP_MAGIC = 0x00f01d83;

export const EFUSE_RD_REG_BASE = 0x3ff5a000;

/**
 * How a flasher tells the virtual board from a real ESP32, whose ROM it
 * otherwise answers as: eFuse BLK0 word 6 bits 16..31, which ESP-IDF's
 * eFuse table (components/efuse/esp32/esp_efuse_table.csv) assigns to
 * nothing, so a real ESP32 reads 0 there, hold the chip id of the virtual
 * board's apps (0x4256, ChipId.VIRTUAL_BOARD). esptool reads only the coding
 * scheme (bits 0..1) of that word.
 */
export const VIRTUAL_BOARD_MARK = { efuseWord: 6, mask: 0xffff0000, value: 0x42560000 } as const;
const APB_CTL_DATE_REG = 0x3ff6607c;
const UART_CLKDIV_REG = 0x3ff40014;
const SPI_REG_BASE = 0x3ff42000;
const SPI_CMD_REG = SPI_REG_BASE + 0x00;
const SPI_USR2_REG = SPI_REG_BASE + 0x24;
const SPI_W0_REG = SPI_REG_BASE + 0x80;
const SPI_CMD_USR = 1 << 18;
const SPIFLASH_RDID = 0x9f;
const SPIFLASH_RDSR = 0x05;
const XTAL_HZ = 40_000_000;
const WINBOND = 0xef;

/**
 * eFuse BLK0 words 3..6 of an ESP32-D0WD-V3, revision 3 (the virtual board's
 * bootloader says v3.1): package D0WD (word 3 bits 9-11 = 1), rated 240 MHz
 * (bit 13), rev bit 0 (word 3 bit 15) and rev bit 1 (word 5 bit 20), ADC
 * reference calibrated (word 4 bits 8-12), coding scheme none (word 6, which
 * also carries VIRTUAL_BOARD_MARK).
 */
const EFUSE_WORDS: Record<number, number> = { 0: 0, 3: 0x0000a200, 4: 0x00000531, 5: 0x00100000, 6: VIRTUAL_BOARD_MARK.value };
/** Rev bit 2 is bit 31 of the APB date on ECO3 silicon; the rest is the register's reset value. */
const APB_CTL_DATE = 0x96042000;

export interface Esp32RegisterOptions {
  /** The factory MAC, as the board itself reports it. */
  mac: Uint8Array;
  flashSize: number;
}

export class Esp32Registers {
  readonly #written = new Map<number, number>();
  readonly #mac: Uint8Array;
  readonly #flashSize: number;
  /** The UART's current rate: the ROM's divider follows it, and esptool computes the crystal from both. */
  baudRate = 115200;

  constructor(options: Esp32RegisterOptions) {
    this.#mac = options.mac;
    this.#flashSize = options.flashSize;
  }

  read(address: number): number {
    const addr = address >>> 0;
    if (addr === CHIP_DETECT_MAGIC_REG) return ESP32_CHIP_MAGIC;
    if (addr === APB_CTL_DATE_REG) return APB_CTL_DATE;
    if (addr === UART_CLKDIV_REG) return Math.round(XTAL_HZ / this.baudRate) & 0xfffff;
    const efuse = (addr - EFUSE_RD_REG_BASE) / 4;
    if (Number.isInteger(efuse) && efuse >= 0 && efuse <= 6 && !this.#written.has(addr)) return this.#efuse(efuse);
    return this.#written.get(addr) ?? 0;
  }

  write(address: number, value: number, mask = 0xffffffff): void {
    const addr = address >>> 0;
    const merged = ((value & mask) | (this.read(addr) & ~mask)) >>> 0;
    this.#written.set(addr, merged);
    if (addr === SPI_CMD_REG && merged & SPI_CMD_USR) this.#runSpiUserCommand();
  }

  /** BLK0 words 1 and 2 hold the MAC (word 2: its first two bytes; the CRC byte above them is not read by esptool). */
  #efuse(word: number): number {
    const m = this.#mac;
    if (word === 1) return ((m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!) >>> 0;
    if (word === 2) return (m[0]! << 8) | m[1]!;
    return EFUSE_WORDS[word] ?? 0;
  }

  /** The controller finishes at once: the command bit clears and W0 holds the flash's answer. */
  #runSpiUserCommand(): void {
    const command = (this.#written.get(SPI_USR2_REG) ?? 0) & 0xff;
    if (command === SPIFLASH_RDID) {
      // JEDEC id bytes: manufacturer, memory type, capacity (log2 of the size in bytes).
      const capacity = Math.log2(this.#flashSize);
      this.#written.set(SPI_W0_REG, (capacity << 16) | (0x40 << 8) | WINBOND);
    } else if (command === SPIFLASH_RDSR) {
      this.#written.set(SPI_W0_REG, 0); // never busy: every operation here completes at once
    }
    this.#written.set(SPI_CMD_REG, (this.#written.get(SPI_CMD_REG)! & ~SPI_CMD_USR) >>> 0);
  }
}
