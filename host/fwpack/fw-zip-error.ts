// Faults of a fw.zip: the archive itself and the package (manifest, parts).
// Messages start with the device's own status text where the device has one
// ("Invalid CRC", "Cannot handle compressed .zip", "Digest mismatch", ...;
// spec/mos-rpc.md §1.2, §3.3), so a host-side refusal reads like the device's.

import { FwpackError } from "./errors.js";

export class FwZipError extends FwpackError {}
