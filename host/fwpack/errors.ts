// One error class per format, so a caller (the CLI, the packager, a test) can
// tell which artefact was rejected without parsing the message.

export class FwpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class PartitionTableError extends FwpackError {}
export class OtadataError extends FwpackError {}
export class AppImageError extends FwpackError {}
export class ModuleArchiveError extends FwpackError {}
export class FlashImageError extends FwpackError {}

export type ErrorClass = new (message: string) => FwpackError;

export function hex(value: number, digits = 0): string {
  return "0x" + (value >>> 0).toString(16).toUpperCase().padStart(digits, "0");
}
