// Power cuts during an update: for every flash operation N of a boot that
// runs OTA.Update, the power goes at operation N (N-1 operations are on the
// flash). Whatever N, the board boots again, runs the version its
// boot state names, and can still be updated.

import assert from "node:assert/strict";
import { file, servePackages, startBench, testFirmware, type PackageServer } from "./ota-rig.ts";

interface BootState {
  active_slot: number;
  is_committed: boolean;
  revert_slot: number;
  commit_timeout: number;
}

describe("power cuts during an update", function () {
  this.timeout(600_000);
  let server: PackageServer;
  before(async () => (server = await servePackages({ "/v2.zip": file((await testFirmware()).v2.zip) })));
  after(() => server.close());

  it("leave a board that boots a consistent state, and updates again, whatever the operation", async () => {
    const outcomes: string[] = [];
    for (let n = 1; ; n++) {
      const bench = await startBench();
      try {
        let cut = false;
        bench.board.on("boot-end", (end) => (cut ||= end.code === 4));
        await bench.board.reset({ powerCutAt: n });
        await bench.board.waitReady().catch(() => undefined);
        await bench.board.waitReady();
        const result = await bench.rpc
          .call("OTA.Update", { url: `${server.url}/v2.zip`, commit_timeout: 30 }, { timeoutMs: 5_000 })
          .then(() => "applied", (e: Error) => `failed: ${e.message}`);
        await bench.board.advanceClock(200);
        await bench.board.waitReady(20_000);
        const state = (await bench.rpc.call("OTA.GetBootState")) as BootState;
        const version = ((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version;
        // The slot that runs is the one the boot state names, with the image that belongs there.
        assert.equal(version, state.active_slot === 1 ? "2.0.0" : "1.0.0", `n=${n}: ${JSON.stringify(state)} runs ${version}`);
        assert.equal(state.is_committed, state.active_slot === 0, `n=${n}: ${JSON.stringify(state)}`);
        outcomes.push(`${n}:${cut ? "cut" : "no cut"}/${result === "applied" ? "applied" : "failed"}/v${version}`);
        if (!cut) break; // N is past the last flash operation of the update
        if (state.active_slot === 0) {
          // Not bricked: the same update goes through after the cut.
          await bench.rpc.call("OTA.Update", { url: `${server.url}/v2.zip`, commit_timeout: 0 });
          const booted = bench.nextBoot();
          await bench.board.advanceClock(200);
          await booted;
          assert.equal(((await bench.rpc.call("Sys.GetInfo")) as { fw_version: string }).fw_version, "2.0.0", `n=${n}: update after the cut`);
        }
      } finally {
        await bench.close();
      }
    }
    // Erases, the image writes, the boot record and otadata: at least that many operations were cut.
    assert.ok(outcomes.length >= 5, `only ${outcomes.length} points: ${outcomes.join(" ")}`);
    process.stdout.write(`      power cut points: ${outcomes.join(" ")}\n`);
  });
});
