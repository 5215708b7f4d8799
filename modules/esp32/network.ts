// The ESP32's Wi-Fi station, brought up by the firmware after the boot guard
// (see sys/board-config for why not by Moddable's setup/network), and kept
// up: Moddable's `wifi` does not reconnect by itself. The HTTP server and the
// MQTT client wait for it, because lwIP is only initialised with Wi-Fi. Once
// up, the clock is set by SNTP: RPC authentication's nonces are times.

import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import WiFi from "wifi";
import { ReconnectBackoff } from "rpc/reconnect-backoff";
import { sntpHost, wifiSettings } from "sys/board-config";
import { guard } from "sys/guard";
import { log } from "sys/log";

let started = false;
let up = false;
const waiting: Array<() => void> = [];

/** Runs `callback` once the board has an IP address (at once if it has one). */
export function whenNetworkUp(callback: () => void): void {
  if (up) {
    callback();
    return;
  }
  waiting.push(callback);
  start();
}

function start(): void {
  if (started) return;
  started = true;
  const { ssid, password } = wifiSettings();
  if (ssid === "") {
    log.warn("wifi", "no Wi-Fi network configured (wifiSsid): HTTP, WebSocket and MQTT stay off");
    return;
  }
  const backoff = new ReconnectBackoff(1000, 30_000);
  const credentials = password === "" ? { ssid } : { ssid, password };
  let retry: ReturnType<typeof Timer.set> | undefined;
  WiFi.mode = WiFi.Mode.station;
  new WiFi(
    credentials,
    guard("wifi", (message) => {
      if (message === WiFi.gotIP) {
        backoff.reset();
        log.info("wifi", `connected to "${ssid}"`);
        if (!up) syncClock();
        up = true;
        for (const callback of waiting.splice(0)) guard("wifi", callback)();
      } else if (message === WiFi.lostIP) {
        log.warn("wifi", "lost the IP address");
      } else if (message === WiFi.disconnected && retry === undefined) {
        // Every failed attempt reports a disconnect too: one retry at a time.
        const ms = backoff.next();
        log.warn("wifi", `disconnected from "${ssid}"; trying again in ${ms} ms`);
        retry = Timer.set(
          guard("wifi", () => {
            retry = undefined;
            WiFi.connect(credentials);
          }),
          ms,
        );
      }
    }),
  );
  log.info("wifi", `connecting to "${ssid}"`);
}

function syncClock(): void {
  const host = sntpHost();
  if (host === "") return;
  new SNTP(
    { host },
    guard("sntp", (message, value) => {
      if (message === SNTP.time && value !== undefined) {
        Time.set(value);
        log.info("sntp", `clock set from ${host}`);
      } else if (message === SNTP.error) {
        log.warn("sntp", `no time from ${host}: the clock stays at its boot value`);
      }
    }),
  );
}
