// Progress of `xs-ota flash` on stderr: a bar per image on a terminal (as
// xs-ota ota draws one), one line per verified image elsewhere.

import { SingleBar } from "cli-progress";
import type { FlashProgress } from "./esp-flasher.ts";
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
