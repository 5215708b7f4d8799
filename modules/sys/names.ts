// Property names from outside. XS never frees a property name: each one
// the engine meets (JSON.parse, obj[name], `name in obj`) becomes a key for
// the rest of the boot, about 32 bytes of heap and a place in the key
// table. A client sending fresh names, frame after frame, would fill the
// heap with them. So a name from outside becomes a property name only when
// the engine holds it already: the firmware's own names, every name a
// handler reads. The one place that makes new names on purpose is
// Config.Set, for the entries of a map in the config (a new user).

/** Whether a property name is already one of the engine's keys, without making it one. */
export type NameCheck = (name: string) => boolean;

// main.ts installs the engine's check (board/system) at boot. Under Node (the
// unit tests) names cost nothing and every name counts as held.
let heldName: NameCheck = () => true;

export function useNameCheck(check: NameCheck): void {
  heldName = check;
}

/** Whether a name from outside may be used as a property name: one the engine holds. */
export function isHeldName(name: string): boolean {
  // The engine's check reads a C string: a NUL would cut the name short.
  return name.indexOf("\u0000") < 0 && heldName(name);
}

/** `Object.hasOwn(object, name)` for a name from outside: compares strings, makes no key. */
export function hasOwnName(object: object, name: string): boolean {
  return Object.keys(object).indexOf(name) >= 0;
}

/** Every name made a key by holdNames, which keeps them referenced (keys stay anyway). */
const heldByFirmware: Record<string, true> = {};

/**
 * Makes these names keys of the engine: names the firmware reads from
 * outside without writing them as properties in its code (a handler's
 * arguments, read by their names in its args_fmt), so that readJson keeps
 * them as properties.
 */
export function holdNames(names: readonly string[]): void {
  for (const name of names) heldByFirmware[name] = true;
}
