// Why an update failed, as a stable negative code and a status text. OTA.Update
// replies with them ("<code> <message>", spec/mos-rpc.md §1.2) and OTA.Status
// shows the message, so users can tell failures apart (cesanta/mongoose-os#184
// asked for exactly this list). Codes that Mongoose OS gave a number keep it;
// the texts it used without a fixed number get one here. Codes never change
// meaning once released: add new ones, do not renumber.
//
// | code | message                                                  | raised by                          |
// |-----:|----------------------------------------------------------|------------------------------------|
// |   -2 | Out of memory                                            | updater (Mongoose OS code)         |
// |   -3 | Update aborted                                           | updater: OTA.End mid-stream, abort |
// |   -4 | Malformed archive (invalid file header)                  | zip: bad local header signature    |
// |   -5 | Wrong platform                                           | manifest: platform is not ours;    |
// |      |                                                          | image: built for another chip id   |
// |  -10 | Digest mismatch                                          | updater: SHA of the app differs;   |
// |      |                                                          | image: appended SHA-256 differs    |
// |  -11 | Write failed                                             | updater: flash write failed        |
// |  -12 | Update failed                                            | any unexpected error (wrapped)     |
// |  -13 | Update timed out                                         | updater: progress watchdog         |
// |  -14 | Not all data was processed                               | updater: stream ended before the   |
// |      |                                                          | central directory (!isComplete)    |
// |  -20 | Cannot handle compressed .zip                            | zip: method is not STORED          |
// |  -21 | Malformed archive                                        | zip: stored sizes differ, ZIP64    |
// |  -22 | Too long file name                                       | zip: name sans dir >= 50 bytes     |
// |  -23 | Invalid CRC                                              | zip: CRC-32 differs from header    |
// |  -24 | Cannot handle .zip with data descriptors                 | zip: flag bit 3 (Go's zip writer)  |
// |  -25 | Malformed archive (manifest.json must be the first file) | zip: first entry is something else |
// |  -30 | Manifest is too big                                      | zip/manifest: over 16 KB           |
// |  -31 | Failed to parse manifest                                 | manifest: not a JSON object        |
// |  -32 | Required manifest field missing                          | manifest: platform, version, ...   |
// |  -33 | Invalid manifest                                         | manifest: a field has a bad value  |
// |  -34 | Incomplete update package                                | manifest: no app part              |
// |  -35 | Bootloader update is not supported                       | manifest: boot part, update: true  |
// |  -36 | Image does not fit the slot                              | updater: before anything is erased |
// |  -37 | Not Modified                                             | download: HTTP 304                 |
// |  -38 | Failed to connect                                        | download: no connection, dropped;  |
// |      |                                                          | a URL or redirect it cannot use    |
// |      |                                                          | (not http://, over 2048 chars, bad |
// |      |                                                          | port), refused before any request  |
// |  -39 | Invalid app image                                        | image: magic, segment count or     |
// |      |                                                          | length, data past the file's end,  |
// |      |                                                          | checksum                           |
// | -1xx.. -5xx | Invalid HTTP response code                        | download: -<HTTP status>           |
//
// "image:" is the app image check (ota/image-check): the faults ESP-IDF
// reports all as ESP_ERR_OTA_VALIDATE_FAILED, told apart. A wrong chip is
// -5, the package being for another device as a wrong platform is; a wrong
// appended SHA-256 is -10, a digest that differs as the manifest's does.
//
// -1 is left alone: Mongoose OS used it both for "Failed to create file" and as
// the catch-all of its 2017 replies, so it would be ambiguous.

export const UpdateCode = {
  OUT_OF_MEMORY: -2,
  ABORTED: -3,
  INVALID_FILE_HEADER: -4,
  WRONG_PLATFORM: -5,
  DIGEST_MISMATCH: -10,
  WRITE_FAILED: -11,
  FAILED: -12,
  TIMED_OUT: -13,
  NOT_ALL_DATA: -14,
  COMPRESSED: -20,
  SIZE_MISMATCH: -21,
  NAME_TOO_LONG: -22,
  INVALID_CRC: -23,
  DATA_DESCRIPTOR: -24,
  MANIFEST_NOT_FIRST: -25,
  MANIFEST_TOO_BIG: -30,
  MANIFEST_PARSE: -31,
  FIELD_MISSING: -32,
  INVALID_MANIFEST: -33,
  INCOMPLETE_PACKAGE: -34,
  BOOT_UPDATE: -35,
  IMAGE_TOO_BIG: -36,
  NOT_MODIFIED: -37,
  CONNECT_FAILED: -38,
  INVALID_IMAGE: -39,
} as const;

export type UpdateCode = (typeof UpdateCode)[keyof typeof UpdateCode];

const REASONS: Readonly<Record<UpdateCode, string>> = {
  [-2]: "Out of memory",
  [-3]: "Update aborted",
  [-4]: "Malformed archive (invalid file header)",
  [-5]: "Wrong platform",
  [-10]: "Digest mismatch",
  [-11]: "Write failed",
  [-12]: "Update failed",
  [-13]: "Update timed out",
  [-14]: "Not all data was processed",
  [-20]: "Cannot handle compressed .zip",
  [-21]: "Malformed archive",
  [-22]: "Too long file name",
  [-23]: "Invalid CRC",
  [-24]: "Cannot handle .zip with data descriptors",
  [-25]: "Malformed archive (manifest.json must be the first file)",
  [-30]: "Manifest is too big",
  [-31]: "Failed to parse manifest",
  [-32]: "Required manifest field missing",
  [-33]: "Invalid manifest",
  [-34]: "Incomplete update package",
  [-35]: "Bootloader update is not supported",
  [-36]: "Image does not fit the slot",
  [-37]: "Not Modified",
  [-38]: "Failed to connect",
  [-39]: "Invalid app image",
};

/**
 * A failed update. `reason` is the fixed text of the code (match on it, or
 * better on `code`); `message` adds the particulars for people, e.g.
 * "Required manifest field missing: build_id".
 */
export class UpdateError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly detail: string | undefined;

  constructor(code: UpdateCode, detail?: string);
  constructor(code: number, detail: string | undefined, reason: string);
  constructor(code: number, detail?: string, reason: string = REASONS[code as UpdateCode] ?? "Update failed") {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = "UpdateError";
    this.code = code;
    this.reason = reason;
    this.detail = detail;
  }

  /** A download answered with an HTTP status we cannot use: code -<status>, as Mongoose reports it. */
  static httpStatus(status: number): UpdateError {
    return new UpdateError(-status, String(status), "Invalid HTTP response code");
  }

  /** What an unexpected throw (a bug, a native failure) becomes, so a failed update always has a code. */
  static from(error: unknown): UpdateError {
    if (error instanceof UpdateError) return error;
    return new UpdateError(UpdateCode.FAILED, error instanceof Error ? error.message : String(error));
  }
}
