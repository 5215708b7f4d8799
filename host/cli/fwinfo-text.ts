// The text view of `xs-ota fwinfo`: one block per thing the file holds, each
// check marked ✓ or ✗ with both values when they differ, so a wrong digest
// can be compared by eye.

import type { AppImageInfo, FirmwareInfo, PackageInfo } from "./fwinfo-report.ts";

const mark = (ok: boolean) => (ok ? "✓" : "✗");

function table(rows: Array<[string, string]>, indent: string): string[] {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${indent}${key.padEnd(width)}  ${value}`);
}

function imageLines(image: AppImageInfo, indent: string): string[] {
  const { header, appDesc: desc } = image;
  const rows: Array<[string, string]> = [
    ["header", `${header.chip} (chip id ${header.chipId}), ${header.segments} segments, ${header.flash}, chip revisions ${header.chipRevisions}`],
    ...image.segments.map((s, i): [string, string] => [`segment ${i}`, `load ${s.loadAddr}, ${s.size} bytes at offset ${s.offset}`]),
    ["app desc", desc ? `${desc.project} ${desc.version}, built ${desc.date} ${desc.time}, IDF ${desc.idf}, secure_version ${desc.secureVersion}` : "✗ none"],
    ["fw_id", image.fwId ?? "-"],
    ["checksum", image.checksum.ok ? `✓ ${image.checksum.stored}` : `✗ stored ${image.checksum.stored}, computed ${image.checksum.computed}`],
    ["SHA-256", !image.hash ? "not appended" : image.hash.ok ? `✓ ${image.hash.stored} (appended)` : `✗ appended ${image.hash.stored}, computed ${image.hash.computed}`],
  ];
  if (image.trailingBytes > 0) rows.push(["trailing", `${image.trailingBytes} bytes after the image`]);
  if (image.failure) rows.push(["verdict", `✗ ${image.failure}`]);
  const lines = table(rows, indent);
  if (image.modules) {
    const total = image.modules.reduce((sum, m) => sum + m.size, 0);
    lines.push(`${indent}modules (${image.modules.length}, ${total} bytes of source):`);
    const width = Math.max(...image.modules.map((m) => m.name.length));
    for (const m of image.modules) lines.push(`${indent}  ${m.name.padEnd(width)}  ${String(m.size).padStart(7)}`);
  }
  return lines;
}

function packageLines(info: PackageInfo): string[] {
  const { parts, ...top } = info.manifest;
  const lines = [`${info.file}: fw.zip, ${info.size} bytes, sha256 ${info.sha256}`, "manifest:"];
  const value = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  lines.push(...table(Object.keys(top).sort().map((key): [string, string] => [key, value(top[key])]), "  "));
  lines.push("entries:");
  lines.push(...table(info.entries.map((e): [string, string] => [e.name, `${String(e.size).padStart(9)} bytes  crc ${e.crc32}`]), "  "));
  for (const part of info.parts) {
    const { src, size, cs_sha1, cs_sha256, ...attrs } = part.attrs;
    const keys = Object.keys(attrs).sort((a, b) => Number(b === "type") - Number(a === "type") || (a < b ? -1 : 1));
    const described = keys.map((key) => `${key} ${value(attrs[key])}`);
    lines.push(`part ${part.name}: ${[...described, ...(src === undefined ? ["no file"] : [`src ${src}`])].join(", ")}`);
    lines.push(
      ...table(
        part.checks.map((c): [string, string] => [`${mark(c.ok)} ${c.check}`, c.ok ? c.actual : `manifest ${c.expected}, actual ${c.actual}`]),
        "  ",
      ),
    );
    if (part.image) lines.push(`  app image ${src}:`, ...imageLines(part.image, "    "));
  }
  return lines;
}

export function renderFwinfo(info: FirmwareInfo): string {
  const lines =
    info.kind === "fw.zip"
      ? packageLines(info)
      : [`${info.file}: ESP-IDF app image, ${info.size} bytes, sha256 ${info.sha256}`, ...imageLines(info.image, "  ")];
  return lines.join("\n") + "\n";
}
