// Views of byte arrays on the data path, where every allocation counts: on
// XS each view is an object of several heap slots, a download makes a few
// per TCP segment, and when the slots run out the whole heap is marked.

/** bytes[start, end) as a view: `bytes` itself when that is all of it, else a subarray. */
export function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
}
