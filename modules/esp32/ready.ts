// "board/ready" on a real ESP32: nobody supervises the board, so there is
// nothing to announce; the boot log says it.

export function announceReady(_info: { deviceId: string; version: string }): void {}
