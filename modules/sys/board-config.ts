// The board's settings, read through mc/config: on an ESP32 from the build,
// manifest `config` (project and board manifests) and mcconfig's command
// line (`make esp32 MC_CONFIG="wifiSsid=lab mqttServer=10.0.0.5"`); on the
// virtual board from its supervisor (httpPort, mqttServer).
// Keys are flat because the command line can only set flat ones, and its
// values are strings. A bad value is reported and replaced by the default
// rather than thrown: a setting must never stop the board from booting.
//
// Wi-Fi credentials are deliberately not Moddable's `ssid`/`password`: with
// those, its setup/network module holds main() until the network is up, so a
// missing access point would keep the boot guard from running.

import config from "mc/config";
import { log } from "sys/log";

export interface UartSettings {
  /** UART number; -1 leaves the RPC channel off (mos: rpc.uart.uart_no). */
  readonly port: number;
  readonly baud: number;
  readonly transmit: number;
  readonly receive: number;
}

export interface MqttSettings {
  /** "host" or "host:port"; "" leaves MQTT off (mos: mqtt.server). */
  readonly server: string;
  readonly user: string;
  readonly password: string;
  /** Keep-alive interval in seconds (mos: mqtt.keep_alive). */
  readonly keepAliveS: number;
}

// ESP32 (WROOM) UART0 pins; boards/esp32s3 and boards/esp32c3 set their own.
const UART_DEFAULTS: UartSettings = { port: 0, baud: 115200, transmit: 1, receive: 3 };

export function uartSettings(): UartSettings {
  return {
    port: integer("rpcUartPort", UART_DEFAULTS.port, -1, 2),
    baud: integer("rpcUartBaud", UART_DEFAULTS.baud, 300, 5_000_000),
    transmit: integer("rpcUartTransmit", UART_DEFAULTS.transmit, 0, 48),
    receive: integer("rpcUartReceive", UART_DEFAULTS.receive, 0, 48),
  };
}

export function httpPort(): number {
  return integer("httpPort", 80, 1, 65535);
}

export function wifiSettings(): { readonly ssid: string; readonly password: string } {
  return { ssid: text("wifiSsid"), password: text("wifiPassword") };
}

/** Where the clock is set from once Wi-Fi is up; "" for nowhere. Moddable's manifest_net.json sets `sntp`. */
export function sntpHost(): string {
  return text("sntp");
}

export function mqttSettings(): MqttSettings {
  return {
    server: text("mqttServer"),
    user: text("mqttUser"),
    password: text("mqttPassword"),
    keepAliveS: integer("mqttKeepAlive", 60, 0, 65535),
  };
}

function setting(key: string): unknown {
  return (config as Record<string, unknown>)[key];
}

function integer(key: string, fallback: number, min: number, max: number): number {
  const value = setting(key);
  if (value === undefined || value === "") return fallback;
  const n = typeof value === "string" ? Number(value.trim()) : value;
  if (typeof n === "number" && Number.isInteger(n) && n >= min && n <= max) return n;
  log.warn("config", `${key}=${String(value)} is not an integer in ${min}..${max}; using ${fallback}`);
  return fallback;
}

function text(key: string): string {
  const value = setting(key);
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  log.warn("config", `${key} is not a string; ignored`);
  return "";
}
