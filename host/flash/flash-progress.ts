// Progress of `xs-ota flash` on stderr: a bar per image on a terminal (as
// xs-ota ota draws one), one line per verified image elsewhere.

import { SingleBar } from "cli-progress";
import type { FlashProgress, FlashRegion } from "./esp-flasher.ts";
import { describeImage, type FlashImage } from "./flash-plan.ts";

export function flashProgress(stream: NodeJS.WriteStream = process.stderr): FlashProgress {
  let bar: SingleBar | undefined;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    start(image: FlashImage, total: number) {
      if (!stream.isTTY) return;
      bar = new SingleBar({ format: `${image.name.padEnd(16)} |{bar}| {percentage}% {value}/{total} bytes compressed`, stream, hideCursor: true });
      bar.start(total, 0);
    },
    update: (written) => bar?.update(written),
    verified(image) {
      stopBar();
      stream.write(`wrote ${describeImage(image)}, MD5 verified\n`);
    },
    stop: stopBar,
  };
}

/** A bar per region read back, on a terminal; nothing elsewhere (the command says what it read when done). */
export function readProgress(regions: readonly FlashRegion[], stream: NodeJS.WriteStream = process.stderr) {
  let bar: SingleBar | undefined;
  let current = -1;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(index: number, read: number, size: number) {
      if (!stream.isTTY) return;
      if (index !== current) {
        stop();
        current = index;
        const name = `0x${regions[index]!.address.toString(16)}`;
        bar = new SingleBar({ format: `read ${name.padEnd(10)} |{bar}| {percentage}% {value}/{total} bytes`, stream, hideCursor: true });
        bar.start(size, 0);
      }
      bar?.update(read);
    },
    stop,
  };
}
