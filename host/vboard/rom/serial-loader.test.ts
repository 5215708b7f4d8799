import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { SyncWatcher } from "../download-mode.ts";
import { Esp32Registers } from "./esp32-registers.ts";
import { Op, SYNC_BODY, dataChecksum, encodeCommand } from "./loader-protocol.ts";
import { NorFlashFile } from "./nor-flash-file.ts";
import { SerialLoader } from "./serial-loader.ts";
import { SlipDecoder, encodeSlip } from "./slip.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const le = (...words: number[]) => Buffer.concat(words.map((w) => Buffer.from(new Uint32Array([w >>> 0]).buffer)));
const FLASH_SIZE = 0x100000;
const MAC = hex("240ac4e9321b");
const STUB_ENTRY = 0x40080000;

/** A loader on a 1 MB flash file; send() returns the packets it answers with. */
class Chip {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "xs-ota-rom-"));
  readonly file = path.join(this.dir, "flash.bin");
  readonly flash: NorFlashFile;
  readonly loader: SerialLoader;
  readonly runs: string[] = [];
  readonly #wire: Buffer[] = [];

  constructor(fault: { flipByteAt?: number } = {}) {
    fs.writeFileSync(this.file, Buffer.alloc(FLASH_SIZE, 0xff));
    this.flash = new NorFlashFile(this.file, fault);
    const registers = new Esp32Registers({ mac: MAC, flashSize: FLASH_SIZE });
    this.loader = new SerialLoader(this.flash, registers, { send: (b) => this.#wire.push(b), run: (why) => this.runs.push(why), note: () => {} });
  }

  /** Raw bytes on the wire since the last call. */
  async wire(bytes: Buffer): Promise<Buffer> {
    this.#wire.length = 0;
    this.loader.receive(bytes);
    await this.loader.idle();
    return Buffer.concat(this.#wire);
  }

  async send(op: number, data: Uint8Array = Buffer.alloc(0), checksum = 0): Promise<Buffer[]> {
    return new SlipDecoder(0x20000).push(await this.wire(encodeSlip(encodeCommand(op, data, checksum))));
  }

  async sendData(op: number, seq: number, payload: Buffer): Promise<Buffer[]> {
    return this.send(op, Buffer.concat([le(payload.length, seq, 0, 0), payload]), dataChecksum(payload));
  }

  /** Upload a "stub" and run it, as esptool does; returns MEM_END's reply and what follows it. */
  async runStub(): Promise<Buffer[]> {
    const code = Buffer.alloc(64, 0x36);
    await this.send(Op.MEM_BEGIN, le(code.length, 1, 0x1800, STUB_ENTRY));
    await this.sendData(Op.MEM_DATA, 0, code);
    return this.send(Op.MEM_END, le(0, STUB_ENTRY));
  }

  close(): void {
    this.flash.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("the ESP32 serial loader (ROM, then flasher stub)", () => {
  let chip: Chip;
  beforeEach(() => (chip = new Chip()));
  afterEach(() => chip.close());

  describe("ROM", () => {
    it("answers SYNC 8 times with the value esptool's trace shows (0x20120707, 4 status bytes)", async () => {
      const replies = await chip.send(Op.SYNC, SYNC_BODY);
      assert.deepEqual(replies, Array(8).fill(hex("010804000707122000000000")));
    });

    it("answers READ_REG 0x40001000 with the ESP32's magic, byte for byte as in esptool traces", async () => {
      const wire = await chip.wire(hex("c0000a04000000000000100040c0"));
      assert.deepEqual(wire, hex("c0010a0400831df00000000000c0"));
    });

    it("reads eFuse word 3 as a D0WD of revision 3 (trace: 010a040000a2000000000000) and the MAC from words 1 and 2", async () => {
      assert.deepEqual(await chip.send(Op.READ_REG, hex("0ca0f53f")), [hex("010a040000a2000000000000")]);
      const [w1] = await chip.send(Op.READ_REG, le(0x3ff5a004));
      const [w2] = await chip.send(Op.READ_REG, le(0x3ff5a008));
      assert.equal(w1!.readUInt32LE(4), 0xc4e9321b);
      assert.equal(w2!.readUInt32LE(4), 0x240a);
    });

    it("repeats the last READ_REG value in later replies, as the ROM does (trace: 010d04003307000000000000)", async () => {
      await chip.send(Op.WRITE_REG, le(0x3ffe0000, 0x733, 0xffffffff, 0));
      await chip.send(Op.READ_REG, le(0x3ffe0000));
      assert.deepEqual(await chip.send(Op.SPI_ATTACH, le(0, 0)), [hex("010d04003307000000000000")]);
    });

    it("answers GET_SECURITY_INFO as the ESP32 ROM does: invalid message, 8 times, in a reply that does not match the request", async () => {
      const sent: Buffer[] = [];
      const loader = new SerialLoader(chip.flash, new Esp32Registers({ mac: MAC, flashSize: FLASH_SIZE }), { send: (b) => sent.push(b), run: () => {}, note: () => {} });
      loader.receive(encodeSlip(encodeCommand(Op.GET_SECURITY_INFO)));
      await loader.idle();
      // One write of 8 frames of 14 bytes, what esptool 4.12 drains (14 * 8 bytes) before it flushes.
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.length, 14 * 8);
      const replies = new SlipDecoder(64).push(sent[0]!);
      assert.equal(replies.length, 8);
      for (const r of replies) {
        assert.notEqual(r[1], Op.GET_SECURITY_INFO);
        assert.deepEqual(r.subarray(8), hex("01050000"));
      }
    });

    it("READ_FLASH_SLOW: 64 bytes of flash whatever the length asked (esptool keeps the first ones), after SPI_ATTACH, within the flash", async () => {
      chip.flash.program(0x8000, Buffer.from("0123456789abcdef".repeat(5)));
      assert.deepEqual((await chip.send(Op.READ_FLASH_SLOW, le(0x8000, 16)))[0]!.subarray(8), hex("01060000"));
      await chip.send(Op.SPI_ATTACH, le(0, 0));
      const [full] = await chip.send(Op.READ_FLASH_SLOW, le(0x8000, 64));
      assert.deepEqual(full!.subarray(0, 4), hex("010e4400"));
      assert.deepEqual(full!.subarray(8), Buffer.concat([chip.flash.read(0x8000, 64), hex("00000000")]));
      const [short] = await chip.send(Op.READ_FLASH_SLOW, le(0x8010, 3));
      assert.deepEqual(short!.subarray(8, 11), Buffer.from("012"));
      assert.equal(short!.length, 8 + 64 + 4);
      const [end] = await chip.send(Op.READ_FLASH_SLOW, le(FLASH_SIZE - 4, 4));
      assert.deepEqual(end!.subarray(8 + 4, 8 + 64), Buffer.alloc(60, 0xff), "past the flash's end: 0xFF");
      assert.deepEqual((await chip.send(Op.READ_FLASH_SLOW, le(FLASH_SIZE - 4, 8)))[0]!.subarray(8), hex("01060000"));
      assert.deepEqual((await chip.send(Op.READ_FLASH_SLOW, le(0, 65)))[0]!.subarray(8), hex("01060000"));
    });

    it("runs the SPI controller's RDID for esptool's flash-id read: the JEDEC id of a Winbond part of this size", async () => {
      const base = 0x3ff42000;
      await chip.send(Op.WRITE_REG, le(base + 0x24, (7 << 28) | 0x9f, 0xffffffff, 0));
      await chip.send(Op.WRITE_REG, le(base, 1 << 18, 0xffffffff, 0));
      const [cmd] = await chip.send(Op.READ_REG, le(base));
      const [w0] = await chip.send(Op.READ_REG, le(base + 0x80));
      assert.equal(cmd!.readUInt32LE(4) & (1 << 18), 0);
      assert.equal(w0!.readUInt32LE(4), 0x1440ef); // 1 MB: capacity byte 0x14
    });

    it("needs SPI_ATTACH before flash commands; FLASH_BEGIN erases the whole range before answering", async () => {
      chip.flash.program(0x3000, hex("00"));
      const begin = le(0x2000, 2, 0x400, 0x2000, 0);
      assert.deepEqual((await chip.send(Op.FLASH_BEGIN, begin))[0]!.subarray(8), hex("01060000"));
      await chip.send(Op.SPI_ATTACH, le(0, 0));
      assert.deepEqual((await chip.send(Op.FLASH_BEGIN, begin))[0]!.subarray(8), hex("00000000"));
      assert.ok(chip.flash.isErased(0x2000, 0x2000));
    });

    it("refuses a FLASH_DATA block whose checksum is wrong (error 0x07), writes a good one at offset + seq * block size", async () => {
      await chip.send(Op.SPI_ATTACH, le(0, 0));
      await chip.send(Op.FLASH_BEGIN, le(0x800, 2, 0x400, 0x4000, 0));
      const block = Buffer.alloc(0x400, 0x5a);
      const bad = await chip.send(Op.FLASH_DATA, Buffer.concat([le(block.length, 1, 0, 0), block]), dataChecksum(block) ^ 1);
      assert.deepEqual(bad[0]!.subarray(8), hex("01070000"));
      await chip.sendData(Op.FLASH_DATA, 1, block);
      assert.deepEqual(chip.flash.read(0x4400, 0x400), block);
      assert.ok(chip.flash.isErased(0x4000, 0x400));
    });

    it("sends SPI_FLASH_MD5 as 32 hex digits", async () => {
      await chip.send(Op.SPI_ATTACH, le(0, 0));
      const [reply] = await chip.send(Op.SPI_FLASH_MD5, le(0, 0x1000, 0, 0));
      assert.equal(reply!.subarray(8, 40).toString("ascii"), createHash("md5").update(Buffer.alloc(0x1000, 0xff)).digest("hex"));
      assert.deepEqual(reply!.subarray(40), hex("00000000"));
    });

    it("FLASH_END hands over to the app (0: reboot, 1: run user code); stub-only commands are unknown", async () => {
      assert.equal((await chip.send(Op.ERASE_FLASH)).length, 8);
      await chip.send(Op.FLASH_END, le(1));
      assert.equal(chip.runs.length, 1);
    });

    it("starts the stub on MEM_END with an entry in the loaded code: the reply, then the unsolicited OHAI (C0 4F 48 41 49 C0)", async () => {
      const replies = await chip.runStub();
      assert.deepEqual(replies, [hex("010604000000000000000000"), Buffer.from("OHAI")]);
      assert.equal(chip.loader.kind, "stub");
    });

    it("refuses to run an entry point outside what was loaded (error 0x0F)", async () => {
      await chip.send(Op.MEM_BEGIN, le(4, 1, 0x1800, STUB_ENTRY));
      await chip.sendData(Op.MEM_DATA, 0, Buffer.alloc(4));
      const [reply] = await chip.send(Op.MEM_END, le(0, STUB_ENTRY + 0x100));
      assert.deepEqual(reply!.subarray(8), hex("010f0000"));
      assert.equal(chip.loader.kind, "rom");
    });
  });

  describe("flasher stub", () => {
    beforeEach(() => chip.runStub());

    it("answers SYNC 8 times with value 0 and 2 status bytes (how esptool tells a stub)", async () => {
      assert.deepEqual(await chip.send(Op.SYNC, SYNC_BODY), Array(8).fill(hex("0108020000000000 0000")));
    });

    it("reports errors as a big-endian response code: bad checksum C1 00, unknown command C3 00, no GET_SECURITY_INFO on an ESP32 FF 00", async () => {
      await chip.send(Op.FLASH_BEGIN, le(4, 1, 0x4000, 0));
      const bad = await chip.send(Op.FLASH_DATA, Buffer.concat([le(4, 0, 0, 0), hex("01020304")]), 0);
      assert.deepEqual(bad[0]!.subarray(8), hex("c100"));
      assert.deepEqual((await chip.send(0x77))[0]!.subarray(8), hex("c300"));
      assert.deepEqual((await chip.send(Op.GET_SECURITY_INFO))[0], hex("0114020000000000 ff00"));
    });

    it("writes FLASH_DEFL data inflated, erasing just in time only the sectors it writes, and sends MD5 as 16 raw bytes", async () => {
      chip.flash.program(0x21000, hex("00")); // a used sector inside the range, and one just past it
      chip.flash.program(0x23000, hex("00"));
      const image = Buffer.concat([Buffer.alloc(0x1800, 0xa5), Buffer.from("end of image")]);
      const deflated = zlib.deflateSync(image, { level: 9 });
      const half = Math.ceil(deflated.length / 2);
      assert.deepEqual((await chip.send(Op.FLASH_DEFL_BEGIN, le(image.length, 2, half, 0x20000)))[0]!.subarray(8), hex("0000"));
      for (const [seq, block] of [deflated.subarray(0, half), deflated.subarray(half)].entries()) {
        assert.deepEqual((await chip.sendData(Op.FLASH_DEFL_DATA, seq, block))[0]!.subarray(8), hex("0000"));
      }
      assert.deepEqual((await chip.send(Op.FLASH_DEFL_END, le(1)))[0]!.subarray(8), hex("0000"));
      assert.deepEqual(chip.flash.read(0x20000, image.length), image);
      assert.equal(chip.flash.read(0x23000, 1)[0], 0x00, "a sector outside the image stays as it was");
      const [md5] = await chip.send(Op.SPI_FLASH_MD5, le(0x20000, image.length, 0, 0));
      assert.deepEqual(md5!.subarray(8), Buffer.concat([createHash("md5").update(image).digest(), hex("0000")]));
    });

    it("READ_FLASH: the reply, then bare packets each acknowledged by the host's byte total, at most max-in-flight unacknowledged, then the MD5", async () => {
      const data = Buffer.alloc(0x2800);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      chip.flash.program(0x30000, data);
      // esptool's request: packets of a sector, 2 in flight at most.
      const first = await chip.send(Op.READ_FLASH, le(0x30000, data.length, 0x1000, 2));
      assert.deepEqual(first, [hex("01d2020000000000 0000"), data.subarray(0, 0x1000), data.subarray(0x1000, 0x2000)]);
      const ack = (total: number) => chip.wire(encodeSlip(le(total))).then((b) => new SlipDecoder(0x2000).push(b));
      assert.deepEqual(await ack(0x1000), [data.subarray(0x2000)]);
      assert.deepEqual(await ack(0x2000), []);
      assert.deepEqual(await ack(0x2800), [createHash("md5").update(data).digest()]);
      // Back to commands.
      assert.deepEqual((await chip.send(Op.SYNC, SYNC_BODY)).length, 8);
    });

    it("READ_FLASH refuses a read past the flash (C4 00) and a packet larger than a sector (C0 00)", async () => {
      assert.deepEqual((await chip.send(Op.READ_FLASH, le(FLASH_SIZE - 0x100, 0x200, 0x100, 64)))[0]!.subarray(8), hex("c400"));
      assert.deepEqual((await chip.send(Op.READ_FLASH, le(0, 0x2000, 0x2000, 64)))[0]!.subarray(8), hex("c000"));
    });

    it("refuses FLASH_END before all announced data came (C0 00), and a misaligned ERASE_REGION (C0 00)", async () => {
      await chip.send(Op.FLASH_BEGIN, le(8, 1, 0x4000, 0));
      await chip.sendData(Op.FLASH_DATA, 0, Buffer.alloc(4));
      assert.deepEqual((await chip.send(Op.FLASH_END, le(1)))[0]!.subarray(8), hex("c000"));
      assert.deepEqual((await chip.send(Op.ERASE_REGION, le(0x800, 0x1000)))[0]!.subarray(8), hex("c000"));
      assert.deepEqual((await chip.send(Op.ERASE_REGION, le(0x1000, 0x1000)))[0]!.subarray(8), hex("0000"));
    });

    it("ERASE_FLASH erases the chip; RUN_USER_CODE sends nothing and hands over to the app", async () => {
      chip.flash.program(0x80000, hex("00"));
      await chip.send(Op.ERASE_FLASH);
      assert.ok(chip.flash.isErased(0, FLASH_SIZE));
      assert.deepEqual(await chip.send(Op.RUN_USER_CODE), []);
      assert.equal(chip.runs.length, 1);
    });

    it("the write-path fault hook flips one byte, and the flash MD5 shows it", async () => {
      chip.close();
      chip = new Chip({ flipByteAt: 0x10 });
      await chip.runStub();
      const data = Buffer.alloc(0x20, 0x42);
      await chip.send(Op.FLASH_BEGIN, le(data.length, 1, 0x4000, 0));
      await chip.sendData(Op.FLASH_DATA, 0, data);
      await chip.send(Op.FLASH_END, le(1));
      assert.equal(chip.flash.read(0x10, 1)[0], 0xbd);
      const [md5] = await chip.send(Op.SPI_FLASH_MD5, le(0, data.length, 0, 0));
      assert.notDeepEqual(md5!.subarray(8, 24), createHash("md5").update(data).digest());
    });
  });

  it("the supervisor's watcher spots a SYNC among mos frames, split across reads", () => {
    const watcher = new SyncWatcher();
    const wire = Buffer.concat([Buffer.from('"""{"method":"RPC.List"}"""\n'), encodeSlip(encodeCommand(Op.SYNC, SYNC_BODY))]);
    assert.equal(watcher.push(wire.subarray(0, 40)), false);
    assert.equal(watcher.push(wire.subarray(40)), true);
    assert.equal(watcher.push(encodeSlip(encodeCommand(Op.READ_REG, le(0x40001000)))), false);
  });
});
