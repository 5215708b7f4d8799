// The heap figures mean the ESP32's budget on both builds of the virtual
// board: the same firmware, idle after boot, reports about the same peak on
// the 64-bit board (slots charged at the ESP32's 16 bytes) as on the 32-bit
// one, never less (its chunks hold 8-byte pointers).
import assert from "node:assert/strict";
import { runnableBits, type BoardBits } from "../host/vboard/assets.ts";
import { startBench } from "./ota-rig.ts";

interface Info {
  ram_size: number;
  ram_free: number;
  ram_min_free: number;
}

const ESP32_DRAM = 320 * 1024;

async function idlePeak(bits: BoardBits): Promise<number> {
  const bench = await startBench("virtual", { bits });
  try {
    const info = (await bench.rpc.call("Sys.GetInfo")) as Info;
    assert.equal(info.ram_size, ESP32_DRAM);
    assert.ok(info.ram_min_free > 0 && info.ram_min_free <= info.ram_free, JSON.stringify(info));
    return info.ram_size - info.ram_min_free;
  } finally {
    await bench.close();
  }
}

describe("heap budget of the virtual board's builds", function () {
  this.timeout(120_000);
  const peaks = new Map<BoardBits, number>();

  for (const bits of runnableBits()) {
    it(`${bits}-bit: reports the ESP32's 320 KiB as ram_size and an idle peak inside it`, async () => {
      const peak = await idlePeak(bits);
      assert.ok(peak > 64 * 1024 && peak < ESP32_DRAM, `idle peak ${peak}`);
      peaks.set(bits, peak);
    });
  }

  it("64-bit: the idle peak is the 32-bit one or a little more (within 25 %), not twice it", function () {
    const [p32, p64] = [peaks.get(32), peaks.get(64)];
    if (p32 === undefined || p64 === undefined) return this.skip(); // this kernel runs no 32-bit program: nothing to compare
    assert.ok(p64 >= p32 && p64 <= 1.25 * p32, `idle peak ${p64} B (64-bit) over ${p32} B (32-bit)`);
  });
});
