// The command and response packets of the ESP32 serial loader, ROM and flasher
// stub (spec/esp-idf.md §9; esptool docs/en/advanced-topics/serial-protocol.rst;
// espressif/esp-flasher-stub src/command_handler.c, the stub esptool-js 0.7
// uploads). Packets are SLIP payloads; all integers little-endian.
//
//   request:  00 op len16 checksum32 data[len]
//   response: 01 op len16 value32    data[len], the status at the end of data
//
// The ROM ends its data with 4 status bytes (status, error, 0, 0); the stub
// with 2, a 16-bit response code sent big-endian (0xC100 -> C1 00).

export const Op = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  READ_FLASH_SLOW: 0x0e,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

/** ROM error codes (the byte after status 1). */
export const RomError = {
  INVALID_MESSAGE: 0x05,
  FAILED_TO_ACT: 0x06,
  BAD_CHECKSUM: 0x07,
  DEFLATE: 0x0b,
  INVALID_RAM_SIZE: 0x0e,
  INVALID_RAM_ADDRESS: 0x0f,
} as const;

/** Stub response codes (esp-flasher-stub commands.h). */
export const StubCode = {
  SUCCESS: 0x0000,
  BAD_DATA_LEN: 0xc000,
  BAD_DATA_CHECKSUM: 0xc100,
  INVALID_COMMAND: 0xc300,
  FAILED_SPI_OP: 0xc400,
  NOT_IN_FLASH_MODE: 0xc600,
  INFLATE_ERROR: 0xc700,
  NOT_ENOUGH_DATA: 0xc800,
  TOO_MUCH_DATA: 0xc900,
  CMD_NOT_IMPLEMENTED: 0xff00,
} as const;

export const HEADER_SIZE = 8;
/** Header of every *_DATA payload: size, seq, 0, 0. */
export const DATA_HEADER_SIZE = 16;
export const CHECKSUM_SEED = 0xef;

/** The SYNC payload: 07 07 12 20, then 32 x 55 (the ROM measures the baud rate on it). */
export const SYNC_BODY = Buffer.concat([Buffer.from([0x07, 0x07, 0x12, 0x20]), Buffer.alloc(32, 0x55)]);

export interface Command {
  readonly op: number;
  /** The header's checksum field (only *_DATA commands use it). */
  readonly checksum: number;
  readonly data: Buffer;
}

/**
 * A request packet, or undefined when it is not one (too short, a response,
 * or its length field disagrees with what arrived).
 */
export function parseCommand(packet: Buffer): Command | undefined {
  if (packet.length < HEADER_SIZE || packet[0] !== 0x00) return undefined;
  const length = packet.readUInt16LE(2);
  if (packet.length !== HEADER_SIZE + length) return undefined;
  return { op: packet[1]!, checksum: packet.readUInt32LE(4), data: packet.subarray(HEADER_SIZE) };
}

export function encodeCommand(op: number, data: Uint8Array = Buffer.alloc(0), checksum = 0): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header[1] = op;
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(checksum >>> 0, 4);
  return Buffer.concat([header, data]);
}

export function encodeResponse(op: number, value: number, data: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = 0x01;
  header[1] = op;
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(value >>> 0, 4);
  return Buffer.concat([header, data]);
}

/** The ROM's status: status 0/1, error code, two reserved bytes. */
export function romStatus(error?: number): Buffer {
  return Buffer.from(error === undefined ? [0, 0, 0, 0] : [1, error, 0, 0]);
}

/** The stub's status: its 16-bit response code, big-endian. */
export function stubStatus(code: number): Buffer {
  return Buffer.from([(code >> 8) & 0xff, code & 0xff]);
}

export function dataChecksum(data: Uint8Array): number {
  let state = CHECKSUM_SEED;
  for (const byte of data) state ^= byte;
  return state;
}

export function isSyncCommand(command: Command): boolean {
  return command.op === Op.SYNC && command.data.equals(SYNC_BODY);
}

/** The little-endian words of a command's data (as many as fit). */
export function words(data: Buffer, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count && (i + 1) * 4 <= data.length; i++) out.push(data.readUInt32LE(i * 4));
  return out;
}
