// The flash timing model seen from the supervisor: on the virtual clock,
// an update moves the board's clock by exactly the model's time for what
// the flash did, by the table's figures; with the model off it does not
// move at all (idf/README.md, "Flash timing"; the table's own tests are in
// idf/tests/idf_test.c).

import assert from "node:assert/strict";
import { flashTimingTable } from "../../bench/flash-timing-table.ts";
import { file, servePackages, startBench, testFirmware } from "../../test/ota-rig.ts";
import type { FlashStats, FlashTiming } from "./supervisor.ts";

async function updateStats(flashTiming?: FlashTiming): Promise<{ before: FlashStats; after: FlashStats }> {
  const { zip } = (await testFirmware()).v2;
  const bench = await startBench("virtual", { flashTiming });
  const server = await servePackages({ "/fw.zip": file(zip) });
  try {
    const before = await bench.board.flashStats();
    await bench.rpc.call("OTA.Update", { url: `${server.url}/fw.zip`, commit_timeout: 0 }, { timeoutMs: 60_000 });
    return { before, after: await bench.board.flashStats() };
  } finally {
    await server.close();
    await bench.close();
  }
}

describe("the flash timing model on the virtual board", function () {
  this.timeout(120_000);

  it("moves the virtual clock by the modelled time of an update's erases, programs and reads", async () => {
    const { before, after } = await updateStats("typical");
    const d = (key: keyof FlashStats) => after[key] - before[key];
    const modelledUs = (d("erase_ns") + d("program_ns") + d("read_ns")) / 1000;
    assert.ok(d("erase_ns") > 0 && d("program_ns") > 0 && d("read_ns") > 0, JSON.stringify({ before, after }));
    assert.ok(Math.abs(d("now_us") - modelledUs) <= 1, `board time ${d("now_us")} us, modelled ${modelledUs} us`);

    // Each erase command is a 64 KB block or a 4 KB sector: their numbers follow from commands and bytes.
    const t = flashTimingTable();
    const units = d("erased_bytes") / t.sectorSize;
    const blocks = (units - d("erases")) / (t.blockSize / t.sectorSize - 1);
    const sectors = d("erases") - blocks;
    assert.ok(Number.isInteger(blocks) && blocks > 0 && sectors > 0, `${blocks} blocks, ${sectors} sectors`);
    assert.equal(d("erase_ns"), blocks * t.blockEraseNs + sectors * t.sectorEraseNs);
    assert.equal(d("read_ns"), d("read_bytes") * t.busNsPerByte);
  });

  it("is off by default: the clock stays, the modelled time is still counted", async () => {
    const { before, after } = await updateStats();
    assert.equal(after.now_us, before.now_us);
    assert.ok(after.erase_ns > before.erase_ns);
  });
});
