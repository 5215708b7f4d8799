#!/usr/bin/env node
// Builds a virtual-board module archive (host/vboard/README.md, "Firmware
// payload") from a folder of .js files: each file's module name is its path
// in the folder without ".js" ("rpc/frame.js" -> "rpc/frame").
//
//   node host/vboard/xs/tests/make-archive.mjs FOLDER OUTPUT
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** @param {Array<[string, string | Buffer]>} modules name and source, in archive order */
export function buildArchive(modules) {
  const parts = [Buffer.from("XSVBMODS", "latin1"), u32(modules.length)];
  for (const [name, source] of modules) {
    const nameBytes = Buffer.from(name, "utf8");
    const sourceBytes = Buffer.isBuffer(source) ? source : Buffer.from(source, "utf8");
    if (nameBytes.length > 0xffff) throw new Error(`module name too long: ${name}`);
    const nameLength = Buffer.alloc(2);
    nameLength.writeUInt16LE(nameBytes.length);
    parts.push(nameLength, nameBytes, u32(sourceBytes.length), sourceBytes);
  }
  return Buffer.concat(parts);
}

/** @param {string} folder */
export function archiveFromFolder(folder) {
  const modules = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".js"))
        modules.push([relative(folder, path).split(sep).join("/").slice(0, -3), readFileSync(path)]);
    }
  };
  walk(folder);
  return buildArchive(modules);
}

function u32(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [folder, output] = process.argv.slice(2);
  if (!folder || !output) {
    console.error("usage: make-archive.mjs FOLDER OUTPUT");
    process.exit(2);
  }
  writeFileSync(output, archiveFromFolder(folder));
}
