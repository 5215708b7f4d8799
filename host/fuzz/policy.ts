// Which calls a generator may send. The oracle counts every reboot and every
// change of the boot state, update status or configuration as a finding, so
// the fuzzer must never make a legitimate request that causes one:
//
// - SAFE methods change nothing however they are called on a committed board
//   with no update in progress (OTA.Commit and OTA.Revert answer -1 there,
//   OTA.Write and OTA.End answer "no update in progress").
// - GUARDED methods act when their arguments are valid; they are sent only by
//   json-gen's guardedFrame, with one argument the handler reads (and refuses)
//   before it acts, and never mutated afterwards.
// - Any other method in RPC.List (a firmware newer than this list) is not
//   called at all: its effect is unknown.
//
// A byte-level mutation can turn a harmless input into a guarded call (a
// flipped byte makes "Config.Get" read "Config.Set", or cuts the poisoned
// argument off); mentionsGuarded() catches every input that names a guarded
// method in any encoding the firmware decodes (percent-escapes in HTTP
// paths and queries, \u escapes in JSON strings), case-insensitively, and
// the generator draws again.

export const SAFE_METHODS = new Set([
  "RPC.List", "RPC.Describe", "RPC.Ping", "Sys.GetInfo", "Config.Get", "OTA.Status", "OTA.Write", "OTA.End", "OTA.Commit", "OTA.Revert", "OTA.GetBootState",
]);

export const GUARDED_METHODS = new Set(["Sys.Reboot", "Config.Set", "Config.Save", "OTA.SetBootState", "OTA.CreateSnapshot", "OTA.Update", "OTA.Begin"]);

const GUARDED_LOWER = [...GUARDED_METHODS].map((m) => m.toLowerCase());

/** What the input reads as once percent-escapes and JSON escapes are undone (best effort, never throws). */
function decodings(text: string): string[] {
  const out = [text];
  const percent = text.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  out.push(percent);
  for (const t of [text, percent]) {
    out.push(
      t.replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, "$1"),
    );
  }
  // A '+' is a space in a query: "Sys+Reboot" is not a method, but be generous.
  return out.map((s) => s.toLowerCase());
}

/** Whether `input` (bytes or text, read as latin1 and as UTF-8) names a guarded method anywhere. */
export function mentionsGuarded(input: Uint8Array | string): boolean {
  const texts = typeof input === "string" ? [input] : [Buffer.from(input).toString("latin1"), Buffer.from(input).toString("utf8")];
  for (const text of texts) {
    for (const decoded of decodings(text)) {
      for (const name of GUARDED_LOWER) if (decoded.includes(name)) return true;
      // The method name split by ignorable bytes is still not a method name: the dispatcher matches exactly.
    }
  }
  return false;
}
