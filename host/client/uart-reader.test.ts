import assert from "node:assert/strict";
import { UartReader, encodeMosFrame } from "./uart-reader.ts";

const push = (r: UartReader, s: string) => r.push(Buffer.from(s, "latin1"));

describe("UART reader (host side)", () => {
  it("tells frames from log lines, with and without \"\"\" and CRC", () => {
    const r = new UartReader();
    assert.deepEqual(
      push(r, 'I (29) boot: hi\r\n{"id":1,"result":1}\n"""{"method":"Sys.GetInfo"}010a4ff9"""\n'),
      [
        { kind: "log", line: "I (29) boot: hi" },
        { kind: "frame", json: '{"id":1,"result":1}' },
        { kind: "frame", json: '{"method":"Sys.GetInfo"}' },
      ],
    );
  });
  it("reports a frame whose CRC does not match instead of delivering it", () => {
    assert.deepEqual(push(new UartReader(), '{"method":"Sys.GetInfo"}010a4ff8\n'), [{ kind: "corrupt", text: '{"method":"Sys.GetInfo"}010a4ff8' }]);
  });
  it("sees the handshake answer even without a newline after it, and empty frames", () => {
    const r = new UartReader();
    assert.deepEqual(push(r, '\n"""\x04"""'), [{ kind: "empty" }, { kind: "handshake" }]);
    assert.deepEqual(push(r, "\n\n"), [{ kind: "empty" }, { kind: "empty" }]);
  });
  it("strips XON/XOFF and decodes UTF-8 in frames and logs", () => {
    const r = new UartReader();
    const bytes = Buffer.concat([Buffer.from([0x13]), Buffer.from('{"s":"é"}\nlog ✓\n'), Buffer.from([0x11])]);
    assert.deepEqual(r.push(bytes), [
      { kind: "frame", json: '{"s":"é"}' },
      { kind: "log", line: "log ✓" },
    ]);
  });
  it("frames as mos does, the JSON in ASCII as the device writes it, CRC over those bytes", () => {
    assert.equal(encodeMosFrame('{"method":"Sys.GetInfo"}').toString(), '\n"""{"method":"Sys.GetInfo"}010a4ff9"""\n');
    assert.equal(encodeMosFrame('{"s":"é😀"}').toString("latin1"), '\n"""{"s":"\\u00e9\\ud83d\\ude00"}5dd14cbb"""\n');
    const r = new UartReader();
    const [empty, frame] = r.push(encodeMosFrame('{"s":"é😀"}'));
    assert.deepEqual(empty, { kind: "empty" });
    assert.deepEqual(frame?.kind === "frame" && JSON.parse(frame.json), { s: "é😀" });
  });
});
