#!/usr/bin/env node
// make hil's entry: `node hil-tests/run.mjs [--board ID] [--tags a,b] [--grep RE]`
// picks the board (also HIL_BOARD / HIL_TAGS) and runs the suite with mocha.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const env = { ...process.env };
const passOn = [];
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split("=", 2);
  const value = () => inline ?? args[++i];
  if (flag === "--board") env.HIL_BOARD = value();
  else if (flag === "--tags") env.HIL_TAGS = value();
  else if (flag === "--help" || flag === "-h") {
    process.stdout.write("usage: node hil-tests/run.mjs [--board ID] [--tags TAG,...] [mocha options]\n  boards and tags: boards/rig.yaml; default: the virtual board\n");
    process.exit(0);
  } else passOn.push(args[i]);
}
const root = fileURLToPath(new URL("..", import.meta.url));
const mocha = fileURLToPath(new URL("../node_modules/mocha/bin/mocha.js", import.meta.url));
const r = spawnSync(process.execPath, [mocha, "--config", "hil-tests/.mocharc.json", ...passOn], { cwd: root, env, stdio: "inherit" });
process.exit(r.status ?? 1);
