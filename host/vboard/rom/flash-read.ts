// The flasher stub's READ_FLASH (esptool serial-protocol.rst, "Reading
// Flash"; esptool loader.py read_flash, esptool-js readFlash): after its
// ordinary reply the stub sends the data as bare SLIP packets of the packet
// size asked for, with no header; the host answers each with a bare 4-byte
// packet holding the total it has received (little-endian); the stub keeps at
// most "max in flight" packets unacknowledged, and once everything is
// acknowledged sends the 16-byte MD5 of what it read, again bare. Then it is
// back to commands.

import { createHash, type Hash } from "node:crypto";
import type { NorFlashFile } from "./nor-flash-file.ts";

export interface ReadRequest {
  offset: number;
  length: number;
  packetSize: number;
  maxInFlight: number;
}

export class FlashRead {
  readonly #flash: NorFlashFile;
  readonly #request: ReadRequest;
  readonly #send: (payload: Buffer) => void;
  readonly #md5: Hash = createHash("md5");
  #sent = 0;
  #acked = 0;

  constructor(flash: NorFlashFile, request: ReadRequest, send: (payload: Buffer) => void) {
    this.#flash = flash;
    this.#request = request;
    this.#send = send;
  }

  /** Send what the in-flight limit allows; true when the read is over (nothing to send: the digest went at once). */
  start(): boolean {
    this.#pump();
    return this.#finishIfDone();
  }

  /**
   * A packet from the host while the read lasts: its acknowledgement. True
   * when the read is over (the digest is sent, or the host broke the
   * protocol, which ends the read as the stub's error return does).
   */
  acknowledge(packet: Buffer): boolean {
    if (packet.length !== 4) return true;
    const acked = packet.readUInt32LE(0);
    if (acked > this.#sent || acked < this.#acked) return true;
    this.#acked = acked;
    this.#pump();
    return this.#finishIfDone();
  }

  #pump(): void {
    const { offset, length, packetSize, maxInFlight } = this.#request;
    // The host counts bytes, the limit counts packets.
    while (this.#sent < length && Math.ceil((this.#sent - this.#acked) / packetSize) < maxInFlight) {
      const n = Math.min(packetSize, length - this.#sent);
      const data = this.#flash.read(offset + this.#sent, n);
      this.#md5.update(data);
      this.#send(data);
      this.#sent += n;
    }
  }

  #finishIfDone(): boolean {
    if (this.#acked < this.#request.length) return false;
    this.#send(this.#md5.digest());
    return true;
  }
}
