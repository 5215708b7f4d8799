import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readCallgrind } from "./callgrind-profile.ts";

// A profile in callgrind's format: main (a.c) calls work (b.c) twice and
// collect once; names and files compressed after their first use.
const PROFILE = `version: 1
creator: callgrind-3.22.0
events: Ir

ob=(1) /bin/board
fl=(1) a.c
fn=(1) main
10 5
cfl=(2) b.c
cfn=(2) work
calls=2 20
11 300
cfn=(3) collect
calls=1 30
12 40
fl=(2)
fn=(2)
20 250
fi=(1)
21 50
fl=(2)
fn=(3)
30 40
fl=(1)
fn=(1)
13 7
cfn=(3)
calls=4 30
14 160
fl=(2)
fn=(3)
30 160
`;

describe("readCallgrind", () => {
  let file: string;
  before(() => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "callgrind-")), "callgrind.out");
    fs.writeFileSync(file, PROFILE);
  });
  after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));

  it("charges each cost line to its file and function, calls to the caller's inclusive figure only", () => {
    const profile = readCallgrind(file, ["main", "work", "collect"]);
    assert.equal(profile.total, 5 + 250 + 50 + 40 + 7 + 160);
    assert.deepEqual(Object.fromEntries(profile.byFile), { "a.c": 5 + 50 + 7, "b.c": 250 + 40 + 160 });
    assert.deepEqual(Object.fromEntries(profile.byFunction), { main: 12, work: 300, collect: 200 });
    assert.deepEqual(Object.fromEntries(profile.inclusive), { main: 12 + 300 + 40 + 160, work: 300, collect: 200 });
  });

  it("counts the calls of the functions asked for, across compressed names", () => {
    const profile = readCallgrind(file, ["work", "collect", "absent"]);
    assert.deepEqual(Object.fromEntries(profile.calls), { work: 2, collect: 5, absent: 0 });
  });
});
