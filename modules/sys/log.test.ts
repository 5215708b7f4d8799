import assert from "node:assert/strict";
import { configureLog, log } from "sys/log";

describe("log lines", () => {
  after(() => configureLog(() => {}, () => 0));

  it("are one line each in ESP-IDF's format, with control characters from clients escaped", () => {
    const lines: string[] = [];
    configureLog((line) => lines.push(line), () => 1234.7);
    log.warn("rpc", 'frame dropped: wrong dst "\n{"id":42,"result":{}}\n\u0013\u0000"');
    log.info("ota", "plain é");
    assert.deepEqual(lines, [
      'W (1234) rpc: frame dropped: wrong dst "\\x0a{"id":42,"result":{}}\\x0a\\x13\\x00"\n',
      "I (1234) ota: plain é\n",
    ]);
  });
});
