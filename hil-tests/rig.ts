// The rig inventory (boards/rig.yaml) and which board a run uses.

import fs from "node:fs";
import { parse } from "yaml";

export interface RigBoard {
  readonly id: string;
  readonly target: "virtual" | "esp32" | "esp32s3" | "esp32c3";
  readonly port?: string;
  readonly baud: number;
  readonly reset: "rts" | "none";
  readonly power?: { readonly off: string; readonly on: string };
  readonly tags: readonly string[];
  /** xs-ota --port URLs that reach it over the network, when it has one (http://10.0.0.5/rpc, ...). */
  readonly ports?: readonly string[];
}

const TARGETS = ["virtual", "esp32", "esp32s3", "esp32c3"];

export class RigError extends Error {
  override readonly name = "RigError";
}

/** Read and check the inventory; every mistake is named with the board it is in. */
export function loadRig(file: string): RigBoard[] {
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new RigError(`cannot read the rig inventory ${file}: ${(e as Error).message}`);
  }
  const list = (doc as { boards?: unknown })?.boards;
  if (!Array.isArray(list)) throw new RigError(`${file}: expected a "boards" list`);
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const b = raw as Record<string, unknown>;
    const where = `${file}: board ${typeof b.id === "string" ? `"${b.id}"` : `#${i + 1}`}`;
    if (typeof b.id !== "string" || b.id === "") throw new RigError(`${where}: "id" is required`);
    if (seen.has(b.id)) throw new RigError(`${where}: duplicate id`);
    seen.add(b.id);
    if (!TARGETS.includes(String(b.target))) throw new RigError(`${where}: "target" must be one of ${TARGETS.join(", ")}`);
    if (b.target !== "virtual" && typeof b.port !== "string") throw new RigError(`${where}: a real board needs "port"`);
    const reset = b.reset ?? (b.target === "virtual" ? "none" : "rts");
    if (reset !== "rts" && reset !== "none") throw new RigError(`${where}: "reset" must be rts or none`);
    const power = b.power as { off?: unknown; on?: unknown } | undefined;
    if (power !== undefined && (typeof power.off !== "string" || typeof power.on !== "string")) {
      throw new RigError(`${where}: "power" needs "off" and "on" commands`);
    }
    const tags = b.tags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string")) throw new RigError(`${where}: "tags" must be a list of words`);
    const ports = b.ports ?? [];
    if (!Array.isArray(ports) || ports.some((p) => typeof p !== "string" || !p.includes("://"))) throw new RigError(`${where}: "ports" must be a list of URLs`);
    return {
      ports: ports as string[],
      id: b.id,
      target: b.target as RigBoard["target"],
      port: b.port as string | undefined,
      baud: typeof b.baud === "number" ? b.baud : 115200,
      reset,
      power: power as RigBoard["power"],
      tags: tags as string[],
    };
  });
}

/** The boards a run may use: by id, else by tags (all must match), else the virtual board. */
export function candidates(rig: readonly RigBoard[], id: string | undefined, tags: readonly string[]): RigBoard[] {
  if (id) {
    const board = rig.find((b) => b.id === id);
    if (!board) throw new RigError(`no board "${id}" in the rig; it has: ${rig.map((b) => b.id).join(", ")}`);
    return [board];
  }
  const wanted = tags.length ? tags : ["virtual"];
  const found = rig.filter((b) => wanted.every((t) => b.tags.includes(t)));
  if (!found.length) throw new RigError(`no board carries the tags ${wanted.join(", ")}`);
  return found;
}
