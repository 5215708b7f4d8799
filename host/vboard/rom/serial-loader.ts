// The ESP32's UART download mode: the ROM's serial loader, and the flasher
// stub once a host has uploaded one and run it (spec/esp-idf.md §9). It
// answers as the chip does, byte for byte where the sources say (esptool's
// serial-protocol.rst and traces, espressif/esp-flasher-stub
// src/command_handler.c, the stub esptool-js 0.7 uploads), and writes the
// flash file under NOR rules. The emulator runs no Xtensa code: a RAM program
// the host starts (MEM_END with an entry inside what it loaded) is taken to be
// the flasher stub, which is what esptool uploads.
//
// Where the sources are silent, the choice is written down:
// - The ESP32 ROM does not know GET_SECURITY_INFO (it came with the ESP32-S2;
//   esptool's detect_chip: "UnsupportedCommandError: ESP8266/ESP32 ROM"), and
//   answers it as any command it does not know: "invalid message" (status 1,
//   error 5) sent 8 times, each frame 14 bytes with its delimiters (esptool
//   4.12 loader.py command(), which drains exactly 14 x 8 bytes after such a
//   reply, then flushes its input). The command byte is 0 so that it does not
//   match the request, which is how esptool and esptool-js tell
//   UnsupportedCommandError. The 8 frames leave as one write, back to back as
//   the ROM's UART sends them: sent one by one, a late frame could reach the
//   host after its flush and be read as the answer to its next command (the
//   autodetection that once failed as "Secure Download Mode").
// - READ_FLASH_SLOW always carries 64 bytes of data, what esptool's ROM path
//   expects whatever it asked for (targets/esp32.py read_flash_slow takes
//   the first block_len); past the bytes asked for we send the flash bytes
//   that follow them, 0xFF past the end of the flash.
// - The stub's RUN_USER_CODE does what serial-protocol.rst says it does (leave
//   the loader and run the app), where esp-flasher-stub still has a TODO.

import { DownloadError, FlashDownload, type LoaderKind } from "./flash-download.ts";
import { FlashRead } from "./flash-read.ts";
import type { Esp32Registers } from "./esp32-registers.ts";
import {
  DATA_HEADER_SIZE,
  Op,
  RomError,
  StubCode,
  dataChecksum,
  encodeResponse,
  isSyncCommand,
  parseCommand,
  romStatus,
  stubStatus,
  words,
  type Command,
} from "./loader-protocol.ts";
import type { NorFlashFile } from "./nor-flash-file.ts";
import { SlipDecoder, encodeSlip } from "./slip.ts";

/** A 64 KB block plus headers: larger than anything esptool sends. */
const MAX_PACKET = 0x10000 + 64;
/** The ROM answers SYNC (and a command it does not know) 8 times. */
const ROM_REPEATS = 8;
/** READ_FLASH_SLOW's fixed data size: the ROM reads at most this much per command. */
const ROM_READ_BLOCK = 64;
/** The largest READ_FLASH packet the stub has a buffer for (one flash sector). */
const STUB_READ_PACKET_MAX = 0x1000;
const OHAI = Buffer.from("OHAI", "ascii");
/** Internal RAM a RAM download may target: DRAM and IRAM (esptool-js targets/esp32.js MEMORY_MAP). */
const RAM_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3ffae000, 0x40000000],
  [0x40070000, 0x400c2000],
];

export interface LoaderIo {
  /** Bytes for the host, on the UART. */
  send(bytes: Buffer): void;
  /** The loader hands over to the app (FLASH_END in the ROM, RUN_USER_CODE in the stub). */
  run(why: string): void;
  /** A line for the supervisor's console, about what the loader did. */
  note(line: string): void;
}

/** A failed command: the ROM's error byte or the stub's response code. */
class Refusal extends Error {
  constructor(readonly code: number) {
    super(`refused with 0x${code.toString(16)}`);
  }
}

interface RamDownload {
  address: number;
  remaining: number;
}

export class SerialLoader {
  readonly #flash: NorFlashFile;
  readonly #registers: Esp32Registers;
  readonly #io: LoaderIo;
  readonly #decoder = new SlipDecoder(MAX_PACKET);
  #kind: LoaderKind = "rom";
  #queue: Promise<void> = Promise.resolve();
  /** The ROM's reply value register: the last READ_REG result (or SYNC's first word), repeated in every reply. */
  #romValue = 0;
  #spiAttached = false;
  #download: FlashDownload | undefined;
  #ram: RamDownload | undefined;
  readonly #loaded: Array<[number, number]> = [];
  /** A stub READ_FLASH under way: the host's packets are its acknowledgements until it ends. */
  #reading: FlashRead | undefined;
  /** The stub writes after acknowledging a block; a failure there is the answer to the next command. */
  #pendingStubError: number | undefined;
  #finished = false;

  constructor(flash: NorFlashFile, registers: Esp32Registers, io: LoaderIo) {
    this.#flash = flash;
    this.#registers = registers;
    this.#io = io;
  }

  get kind(): LoaderKind {
    return this.#kind;
  }

  /** Bytes from the host. Commands are handled one at a time, in order. */
  receive(bytes: Uint8Array): void {
    for (const packet of this.#decoder.push(bytes)) {
      this.#queue = this.#queue.then(() => this.#packet(packet)).catch((e: Error) => this.#io.note(`loader fault: ${e.message}`));
    }
  }

  /** Resolves when every command received so far has been handled. */
  idle(): Promise<void> {
    return this.#queue;
  }

  async #packet(packet: Buffer): Promise<void> {
    if (this.#finished) return;
    const command = parseCommand(packet);
    if (this.#kind === "rom") {
      // Text between packets, or a damaged packet: the ROM says the message was invalid.
      if (!command) return packet.length >= 2 ? this.#romUnknown() : undefined;
      return this.#rom(command);
    }
    if (this.#reading) {
      if (this.#reading.acknowledge(packet)) this.#reading = undefined;
      return;
    }
    if (!command) {
      if (packet.length < 8) return;
      return this.#stubReply(packet[1]!, packet[0] !== 0 ? StubCode.INVALID_COMMAND : StubCode.BAD_DATA_LEN);
    }
    if (this.#pendingStubError !== undefined) {
      const code = this.#pendingStubError;
      this.#pendingStubError = undefined;
      return this.#stubReply(command.op, code);
    }
    return this.#stub(command);
  }

  // ---- ROM ----

  async #rom(c: Command): Promise<void> {
    try {
      switch (c.op) {
        case Op.SYNC:
          if (!isSyncCommand(c)) throw new Refusal(RomError.INVALID_MESSAGE);
          this.#romValue = c.data.readUInt32LE(0);
          for (let i = 0; i < ROM_REPEATS; i++) this.#romReply(c.op);
          return;
        case Op.READ_REG:
          this.#romValue = this.#registers.read(this.#word(c, 0, 4));
          return this.#romReply(c.op);
        case Op.WRITE_REG:
          this.#writeRegisters(c, RomError.INVALID_MESSAGE);
          return this.#romReply(c.op);
        case Op.SPI_SET_PARAMS:
          this.#sized(c, [24], RomError.INVALID_MESSAGE);
          return this.#romReply(c.op);
        case Op.SPI_ATTACH:
          this.#sized(c, [8], RomError.INVALID_MESSAGE);
          this.#spiAttached = true;
          return this.#romReply(c.op);
        case Op.CHANGE_BAUDRATE:
          this.#sized(c, [8], RomError.INVALID_MESSAGE);
          this.#romReply(c.op); // answered at the old rate, then the UART switches
          this.#registers.baudRate = c.data.readUInt32LE(0);
          return;
        case Op.FLASH_BEGIN:
        case Op.FLASH_DEFL_BEGIN:
          return this.#romFlashBegin(c);
        case Op.FLASH_DATA:
        case Op.FLASH_DEFL_DATA: {
          const download = this.#download;
          if (!download) throw new Refusal(RomError.FAILED_TO_ACT);
          const { seq, payload } = this.#dataBlock(c, RomError.INVALID_MESSAGE, RomError.BAD_CHECKSUM);
          // The ROM writes the block before it answers.
          await download.data(seq, payload).catch((e: DownloadError) => {
            throw new Refusal(e.failure === "inflate" ? RomError.DEFLATE : RomError.FAILED_TO_ACT);
          });
          return this.#romReply(c.op);
        }
        case Op.FLASH_END:
        case Op.FLASH_DEFL_END: {
          const flag = this.#word(c, 0, 4);
          this.#download?.end();
          this.#download = undefined;
          this.#romReply(c.op);
          return this.#leave(flag === 0 ? "the ROM's FLASH_END: reboot" : "the ROM's FLASH_END: run user code");
        }
        case Op.MEM_BEGIN:
          this.#memBegin(c, RomError.INVALID_MESSAGE, RomError.INVALID_RAM_ADDRESS);
          return this.#romReply(c.op);
        case Op.MEM_DATA:
          this.#memData(c, RomError.INVALID_MESSAGE, RomError.BAD_CHECKSUM, RomError.INVALID_RAM_SIZE);
          return this.#romReply(c.op);
        case Op.MEM_END: {
          const start = this.#memEnd(c, RomError.INVALID_MESSAGE, RomError.INVALID_RAM_ADDRESS);
          this.#romReply(c.op);
          return start?.();
        }
        case Op.READ_FLASH_SLOW: {
          if (!this.#spiAttached) throw new Refusal(RomError.FAILED_TO_ACT);
          const [address, length] = this.#words(c, [8], RomError.INVALID_MESSAGE);
          if (length! > ROM_READ_BLOCK || address! + length! > this.#flash.size) throw new Refusal(RomError.FAILED_TO_ACT);
          const block = Buffer.alloc(ROM_READ_BLOCK, 0xff);
          this.#flash.read(address!, Math.min(ROM_READ_BLOCK, this.#flash.size - address!)).copy(block);
          return this.#romReply(c.op, block);
        }
        case Op.SPI_FLASH_MD5: {
          if (!this.#spiAttached) throw new Refusal(RomError.FAILED_TO_ACT);
          const md5 = this.#md5(c, RomError.INVALID_MESSAGE, RomError.FAILED_TO_ACT);
          // The ROM sends the digest as 32 ASCII hex digits.
          return this.#romReply(c.op, Buffer.from(md5.toString("hex"), "ascii"));
        }
        default:
          // GET_SECURITY_INFO came with the ESP32-S2; the stub-only commands are unknown here too.
          return this.#romUnknown();
      }
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      this.#romReply(c.op, Buffer.alloc(0), e.code);
    }
  }

  #romFlashBegin(c: Command): void {
    const [size, blocks, blockSize, offset, encrypted] = this.#words(c, [16, 20], RomError.INVALID_MESSAGE);
    // Without SPI_ATTACH the ROM has no flash to talk to; this flash is never encrypted.
    if (!this.#spiAttached || encrypted) throw new Refusal(RomError.FAILED_TO_ACT);
    try {
      this.#download?.close();
      this.#download = new FlashDownload(this.#flash, "rom", { size: size!, blocks: blocks!, blockSize: blockSize!, offset: offset!, compressed: c.op === Op.FLASH_DEFL_BEGIN });
    } catch (e) {
      if (e instanceof DownloadError) throw new Refusal(RomError.FAILED_TO_ACT);
      throw e;
    }
    this.#romReply(c.op);
  }

  #romReply(op: number, data: Buffer = Buffer.alloc(0), error?: number): void {
    this.#io.send(encodeSlip(encodeResponse(op, this.#romValue, Buffer.concat([data, romStatus(error)]))));
  }

  #romUnknown(): void {
    const reply = encodeSlip(encodeResponse(0, this.#romValue, romStatus(RomError.INVALID_MESSAGE)));
    this.#io.send(Buffer.concat(Array<Buffer>(ROM_REPEATS).fill(reply)));
  }

  // ---- stub ----

  async #stub(c: Command): Promise<void> {
    let value = 0;
    let data: Buffer = Buffer.alloc(0);
    let after: (() => Promise<void> | void) | undefined;
    try {
      switch (c.op) {
        case Op.SYNC:
          this.#sized(c, [36], StubCode.BAD_DATA_LEN);
          // Eight answers with value 0, so a host that lost track finds the stub (and knows it is one).
          for (let i = 0; i < ROM_REPEATS - 1; i++) this.#stubReply(c.op, StubCode.SUCCESS);
          break;
        case Op.READ_REG:
          value = this.#registers.read(this.#word(c, 0, 4, StubCode.BAD_DATA_LEN));
          break;
        case Op.WRITE_REG:
          this.#writeRegisters(c, StubCode.NOT_ENOUGH_DATA);
          break;
        case Op.SPI_ATTACH:
          this.#sized(c, [4], StubCode.BAD_DATA_LEN);
          break;
        case Op.SPI_SET_PARAMS:
          this.#sized(c, [24], StubCode.BAD_DATA_LEN);
          break;
        case Op.CHANGE_BAUDRATE:
          this.#sized(c, [8], StubCode.BAD_DATA_LEN);
          after = () => void (this.#registers.baudRate = c.data.readUInt32LE(0));
          break;
        case Op.FLASH_BEGIN:
        case Op.FLASH_DEFL_BEGIN: {
          const [size, blocks, blockSize, offset] = this.#words(c, [16, 20], StubCode.BAD_DATA_LEN);
          try {
            this.#download?.close();
            this.#download = new FlashDownload(this.#flash, "stub", { size: size!, blocks: blocks!, blockSize: blockSize!, offset: offset!, compressed: c.op === Op.FLASH_DEFL_BEGIN });
          } catch (e) {
            if (e instanceof DownloadError) throw new Refusal(StubCode.FAILED_SPI_OP);
            throw e;
          }
          break;
        }
        case Op.FLASH_DATA:
        case Op.FLASH_DEFL_DATA: {
          if (c.data.length < DATA_HEADER_SIZE) throw new Refusal(c.op === Op.FLASH_DATA ? StubCode.NOT_ENOUGH_DATA : StubCode.BAD_DATA_LEN);
          const download = this.#download;
          if (!download) throw new Refusal(StubCode.NOT_IN_FLASH_MODE);
          const { seq, payload } = this.#dataBlock(c, StubCode.TOO_MUCH_DATA, StubCode.BAD_DATA_CHECKSUM);
          // Acknowledged on arrival; written while the host sends the next block.
          after = () =>
            download.data(seq, payload).catch((e: DownloadError) => {
              this.#pendingStubError = e.failure === "inflate" ? StubCode.INFLATE_ERROR : StubCode.FAILED_SPI_OP;
              this.#io.note(`stub: ${e.message}`);
            });
          break;
        }
        case Op.FLASH_END:
        case Op.FLASH_DEFL_END: {
          this.#sized(c, [4], StubCode.BAD_DATA_LEN);
          const download = this.#download;
          if (!download) throw new Refusal(StubCode.NOT_IN_FLASH_MODE);
          try {
            download.end();
          } catch (e) {
            if (e instanceof DownloadError) throw new Refusal(StubCode.BAD_DATA_LEN);
            throw e;
          }
          this.#download = undefined;
          break; // the reboot flag: esp-flasher-stub does not act on it either
        }
        case Op.MEM_BEGIN:
          this.#memBegin(c, StubCode.BAD_DATA_LEN, StubCode.BAD_DATA_LEN);
          break;
        case Op.MEM_DATA:
          this.#memData(c, StubCode.NOT_ENOUGH_DATA, StubCode.BAD_DATA_CHECKSUM, StubCode.TOO_MUCH_DATA);
          break;
        case Op.MEM_END:
          after = this.#memEnd(c, StubCode.BAD_DATA_LEN, StubCode.BAD_DATA_LEN);
          break;
        case Op.SPI_FLASH_MD5:
          data = this.#md5(c, StubCode.BAD_DATA_LEN, StubCode.FAILED_SPI_OP);
          break;
        case Op.GET_SECURITY_INFO:
          this.#sized(c, [0], StubCode.BAD_DATA_LEN);
          throw new Refusal(StubCode.CMD_NOT_IMPLEMENTED); // the ESP32 has no such information
        case Op.ERASE_FLASH:
          this.#flash.erase(0, this.#flash.size);
          this.#io.note("stub: chip erased");
          break;
        case Op.ERASE_REGION: {
          const [address, size] = this.#words(c, [8], StubCode.BAD_DATA_LEN);
          if (address! % 0x1000 || size! % 0x1000 || address! + size! > this.#flash.size) throw new Refusal(StubCode.BAD_DATA_LEN);
          this.#flash.erase(address!, size!);
          break;
        }
        case Op.RUN_USER_CODE:
          return this.#leave("the stub's RUN_USER_CODE"); // it sends no reply
        case Op.READ_FLASH: {
          const [offset, length, packetSize, maxInFlight] = this.#words(c, [16], StubCode.BAD_DATA_LEN);
          if (!packetSize || packetSize > STUB_READ_PACKET_MAX || !maxInFlight) throw new Refusal(StubCode.BAD_DATA_LEN);
          if (offset! + length! > this.#flash.size) throw new Refusal(StubCode.FAILED_SPI_OP);
          // The only command whose reply comes before its work: then the data.
          const read = new FlashRead(this.#flash, { offset: offset!, length: length!, packetSize, maxInFlight }, (payload) => this.#io.send(encodeSlip(payload)));
          after = () => {
            if (!read.start()) this.#reading = read;
          };
          break;
        }
        default:
          throw new Refusal(StubCode.INVALID_COMMAND);
      }
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return this.#stubReply(c.op, e.code);
    }
    this.#stubReply(c.op, StubCode.SUCCESS, value, data);
    await after?.();
  }

  #stubReply(op: number, code: number, value = 0, data: Buffer = Buffer.alloc(0)): void {
    this.#io.send(encodeSlip(encodeResponse(op, value, Buffer.concat([data, stubStatus(code)]))));
  }

  // ---- shared by both loaders ----

  #sized(c: Command, sizes: number[], code: number): void {
    if (!sizes.includes(c.data.length)) throw new Refusal(code);
  }

  #words(c: Command, sizes: number[], code: number): number[] {
    this.#sized(c, sizes, code);
    return words(c.data, c.data.length / 4);
  }

  #word(c: Command, index: number, size: number, code: number = RomError.INVALID_MESSAGE): number {
    return this.#words(c, [size], code)[index]!;
  }

  /** WRITE_REG: groups of address, value, mask, delay (the delay is nothing to wait for here). */
  #writeRegisters(c: Command, code: number): void {
    if (c.data.length === 0 || c.data.length % 16) throw new Refusal(code);
    for (let at = 0; at < c.data.length; at += 16) {
      this.#registers.write(c.data.readUInt32LE(at), c.data.readUInt32LE(at + 4), c.data.readUInt32LE(at + 8));
    }
  }

  /** A *_DATA payload: size, seq, 0, 0, then the bytes, whose XOR checksum is in the header. */
  #dataBlock(c: Command, lengthCode: number, checksumCode: number): { seq: number; payload: Buffer } {
    if (c.data.length < DATA_HEADER_SIZE) throw new Refusal(lengthCode);
    const size = c.data.readUInt32LE(0);
    const payload = c.data.subarray(DATA_HEADER_SIZE);
    if (size !== payload.length) throw new Refusal(lengthCode);
    if (dataChecksum(payload) !== (c.checksum & 0xff)) throw new Refusal(checksumCode);
    return { seq: c.data.readUInt32LE(4), payload };
  }

  #md5(c: Command, lengthCode: number, rangeCode: number): Buffer {
    const [address, size] = this.#words(c, [16], lengthCode);
    if (address! + size! > this.#flash.size) throw new Refusal(rangeCode);
    return this.#flash.md5(address!, size!);
  }

  #memBegin(c: Command, lengthCode: number, addressCode: number): void {
    if (c.data.length !== 16) throw new Refusal(lengthCode);
    const [size, , , address] = words(c.data, 4);
    const inRam = RAM_RANGES.some(([low, high]) => address! >= low && address! + size! <= high);
    if (!inRam) throw new Refusal(addressCode);
    this.#ram = { address: address!, remaining: size! };
  }

  #memData(c: Command, lengthCode: number, checksumCode: number, sizeCode: number): void {
    const ram = this.#ram;
    if (!ram) throw new Refusal(sizeCode);
    const { payload } = this.#dataBlock(c, lengthCode, checksumCode);
    if (payload.length > ram.remaining) throw new Refusal(sizeCode);
    this.#loaded.push([ram.address, ram.address + payload.length]);
    ram.address += payload.length;
    ram.remaining -= payload.length;
  }

  /**
   * MEM_END: flag 0 runs the entry point, after the reply. The only program
   * that runs here is the flasher stub; the returned function starts it.
   */
  #memEnd(c: Command, lengthCode: number, addressCode: number): (() => void) | undefined {
    if (c.data.length !== 8) throw new Refusal(lengthCode);
    const [flag, entry] = words(c.data, 2);
    this.#ram = undefined;
    if (flag !== 0) return undefined;
    if (!this.#loaded.some(([low, high]) => entry! >= low && entry! < high)) throw new Refusal(addressCode);
    return () => {
      this.#kind = "stub";
      this.#pendingStubError = undefined;
      this.#io.send(encodeSlip(OHAI));
      this.#io.note(`flasher stub running (entry 0x${entry!.toString(16)})`);
    };
  }

  /** The chip loses power: whatever was under way stops here. */
  close(): void {
    this.#finished = true;
    this.#download?.close();
    this.#download = undefined;
  }

  #leave(why: string): void {
    this.close();
    this.#io.run(why);
  }
}
