import assert from "node:assert/strict";
import { AutoResetCircuit, type BootMode } from "./auto-reset.ts";

/** A circuit with a short strapping window, and what the chip saw. */
function bench(windowMs = 40) {
  const seen: Array<"hold" | BootMode> = [];
  const circuit = new AutoResetCircuit({ hold: () => seen.push("hold"), release: (mode) => seen.push(mode) }, windowMs);
  return { seen, circuit };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the DevKitC auto-reset circuit behind the RFC 2217 port", () => {
  it("opening a port (DTR then RTS asserted) resets nothing", async () => {
    const { seen, circuit } = bench();
    circuit.set({ dtr: true });
    circuit.set({ rts: true });
    await sleep(60);
    assert.deepEqual(seen, []);
    circuit.close();
  });

  it("esptool's ClassicReset, each change a separate message, ends in download mode", () => {
    const { seen, circuit } = bench();
    circuit.set({ dtr: true, rts: true }); // the port is open
    circuit.set({ dtr: false }); // IO0 high
    circuit.set({ rts: true }); // EN low
    circuit.set({ dtr: true }); // both asserted: EN rises with GPIO0 still high, for one message's time
    circuit.set({ rts: false }); // GPIO0 low within the strapping window
    circuit.set({ dtr: false });
    assert.deepEqual(seen, ["hold", "download"]);
    circuit.close();
  });

  it("an RTS pulse (esptool's --after hard_reset) boots from flash once the strapping window has passed", async () => {
    const { seen, circuit } = bench();
    circuit.set({ rts: true });
    assert.deepEqual(seen, ["hold"]);
    assert.equal(circuit.inReset, true);
    circuit.set({ rts: false });
    assert.equal(circuit.inReset, true, "GPIO0 is not latched yet");
    await sleep(60);
    assert.deepEqual(seen, ["hold", "flash"]);
    assert.equal(circuit.inReset, false);
  });

  it("GPIO0 pulled low after the strapping window does not change a boot that has begun", async () => {
    const { seen, circuit } = bench();
    circuit.set({ rts: true });
    circuit.set({ rts: false });
    await sleep(60);
    circuit.set({ dtr: true });
    await sleep(10);
    assert.deepEqual(seen, ["hold", "flash"]);
  });

  it("EN pulled low again inside the window keeps the chip in reset; a port that goes away lets it boot", async () => {
    const { seen, circuit } = bench();
    circuit.set({ rts: true });
    circuit.set({ rts: false });
    circuit.set({ rts: true });
    await sleep(60);
    assert.deepEqual(seen, ["hold"]);
    circuit.release();
    await sleep(60);
    assert.deepEqual(seen, ["hold", "flash"]);
  });
});
