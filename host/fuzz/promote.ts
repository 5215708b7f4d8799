// Turns a finding (build/fuzz/findings/<id>.json, written by run.ts) into a
// regression (host/fuzz/regressions/<name>.json) that replay.ts delivers
// again, byte for byte, through the same transport.
//
//   npx tsx host/fuzz/promote.ts build/fuzz/findings/<id>.json <name> "<one line: what it does>"

import fs from "node:fs";
import path from "node:path";
import { REGRESSIONS_DIR, type Regression } from "./replay.ts";

const [file, name, description] = process.argv.slice(2);
if (!file || !name || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: npx tsx host/fuzz/promote.ts <finding.json> <name: a-z0-9-> "<description>"\n');
  process.exit(2);
}
const finding = JSON.parse(fs.readFileSync(file, "utf8")) as {
  id: string;
  transport: Regression["transport"];
  kind: string;
  detail: string;
  seed: number;
  cases: number[];
  console: string[];
  records: Regression["records"];
};
const records = finding.records.filter((r) => finding.cases.includes(r.index));
if (records.length === 0) {
  process.stderr.write(`${file} holds none of its cases ${finding.cases.join(",")}: a finding not bisected keeps only its batch\n`);
  process.exit(1);
}
const regression: Regression = {
  name,
  transport: finding.transport,
  status: "open",
  symptom: `${finding.kind}: ${finding.detail}`,
  description: description ?? finding.detail,
  found: { finding: finding.id, seed: finding.seed, cases: finding.cases, console: finding.console.slice(-20) },
  records,
};
fs.mkdirSync(REGRESSIONS_DIR, { recursive: true });
const out = path.join(REGRESSIONS_DIR, `${name}.json`);
fs.writeFileSync(out, JSON.stringify(regression, null, 1) + "\n");
process.stdout.write(`${out}: ${records.length} case(s) of ${finding.transport}\n`);
