// "board/ready" on the virtual board: tells the supervisor the firmware is up.

import { sendLink } from "vboard/link";

export function announceReady(info: { deviceId: string; version: string }): void {
  sendLink({ t: "ready", deviceId: info.deviceId, version: info.version });
}
