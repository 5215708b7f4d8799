// Firmware entry: identity, the RPC services, then the channels. Order
// matters: every service is registered before a channel can deliver a call.

import Timer from "timer";
import System from "board/system";
import Slots from "board/slots";
import Records from "board/records";
import { announceReady } from "board/ready";
import { rpcUart } from "board/uart";
import { httpClient } from "net/http-client";
import { serveHttp } from "net/http-server";
import { mqttClient } from "net/mqtt-client";
import { serveWebSocket } from "net/ws-server";
import { Dispatcher } from "rpc/dispatcher";
import { startHttpChannel } from "rpc/http-channel";
import { startMqttChannel } from "rpc/mqtt-channel";
import { startUartChannel } from "rpc/uart-channel";
import { startWsChannel } from "rpc/ws-channel";
import { installAuth } from "rpc/auth";
import { Config } from "sys/config";
import { CONFIG_SCHEMA, authSettings } from "sys/config-schema";
import { installConfigService } from "sys/config-service";
import { deviceIdFromMac } from "sys/identity";
import { useNameCheck } from "sys/names";
import { configureLog, log } from "sys/log";
import { installRpcService } from "sys/rpc-service";
import { installSysService } from "sys/sys-service";
import { BootStatePolicy } from "ota/boot-state";
import { runningChipId } from "ota/image-check";
import { installOtaService } from "ota/service";
import { Updater } from "ota/updater";

/** Milliseconds since boot: the log's time stamps and the update watchdog's clock. */
const uptimeMs = () => System.uptimeUs() / 1000;

configureLog((line) => trace(line), uptimeMs);
// Names from outside become property names only if the engine holds them already.
useNameCheck((name) => System.isName(name));

const app = System.appDescription();
const mac = System.mac();
log.info("main", `${app.projectName} ${app.version} starting`);

// The boot guard runs before anything else can fail: a trial image gets its
// rollback timer (or is committed at once) however the rest of the boot goes.
const slots = new Slots();
const boot = new BootStatePolicy(slots, new Records());
boot.atBoot();

// The configuration names the device and says who may call what.
const config = new Config(CONFIG_SCHEMA, new Records(), { "device.id": (template) => deviceIdFromMac(mac, String(template)) });
for (const problem of config.load()) log.error("config", problem);
const deviceId = String(config.get("device.id"));
log.info("main", `device id ${deviceId}`);

const after = (ms: number, callback: () => void) => {
  const id = Timer.set(() => callback(), ms);
  return () => Timer.clear(id);
};
const restart = () => {
  log.info("main", "restarting");
  System.restart();
};

const rpc = new Dispatcher(() => deviceId);
rpc.onDrop = (reason, channel) => log.warn("rpc", `${channel.type}: frame dropped: ${reason}`);
installRpcService(rpc);
const sys = installSysService(rpc, {
  deviceId,
  mac,
  app,
  chipId: runningChipId(slots),
  uptimeUs: () => System.uptimeUs(),
  heap: () => System.heap(),
  after: (ms, callback) => void after(ms, callback),
  restart,
});
// After the reboot lockout: Date.now() is the system time (SNTP on a device, the board's clock on the virtual one).
const auth = installAuth(rpc, { settings: () => authSettings(config), nowSeconds: () => Date.now() / 1000 });
installConfigService(rpc, { config, rebootAfter: sys.rebootAfter });
installOtaService(rpc, {
  slots,
  boot,
  updater: new Updater(slots, boot, { after, now: uptimeMs }),
  http: httpClient,
  decodeBase64: (text) => System.decodeBase64(text),
  rebootAfter: (ms, prepare) =>
    void after(ms, () => {
      prepare?.();
      restart();
    }),
  downloadHeaders: {
    "X-MGOS-Device-ID": `${deviceId} ${mac}`,
    "X-MGOS-FW-Version": `esp32 ${app.version} ${app.elfSha256.slice(0, 16)}`,
    "User-Agent": `${app.projectName}/${app.version} (xs-ota; esp32)`,
  },
});

if (config.get("rpc.uart.enable") === true) startUartChannel(rpc, rpcUart.open, rpcUart.uartNo);
else log.info("main", "RPC on the UART is off (rpc.uart.enable)");
startHttpChannel(rpc, serveHttp, auth);
startWsChannel(rpc, serveWebSocket);
startMqttChannel(rpc, mqttClient);

announceReady({ deviceId, version: app.version });
log.info("main", "RPC ready on UART0 and HTTP /rpc (WebSocket too), MQTT when a broker is up");
