// Firmware entry: identity, the RPC services, then the channels. Order
// matters: every service is registered before a channel can deliver a call.

import Serial from "embedded:io/serial";
import Timer from "timer";
import System from "board/system";
import Slots from "board/slots";
import Records from "board/records";
import { httpClient } from "board/http-client";
import { serveHttp } from "board/http-server";
import { announceReady } from "board/ready";
import { Dispatcher } from "rpc/dispatcher";
import { startHttpChannel } from "rpc/http-channel";
import { startUartChannel } from "rpc/uart-channel";
import { deviceIdFromMac } from "sys/identity";
import { configureLog, log } from "sys/log";
import { installRpcService } from "sys/rpc-service";
import { installSysService } from "sys/sys-service";
import { BootStatePolicy } from "ota/boot-state";
import { installOtaService } from "ota/service";
import { Updater } from "ota/updater";

configureLog(
  (line) => trace(line),
  () => System.uptimeUs() / 1000,
);

const app = System.appDescription();
const mac = System.mac();
const deviceId = deviceIdFromMac(mac);
log.info("main", `${app.projectName} ${app.version} starting, device id ${deviceId}`);

// The boot guard runs before anything else can fail: a trial image gets its
// rollback timer (or is committed at once) however the rest of the boot goes.
const slots = new Slots();
const boot = new BootStatePolicy(slots, new Records());
boot.atBoot();

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
installSysService(rpc, {
  deviceId,
  mac,
  app,
  uptimeUs: () => System.uptimeUs(),
  heap: () => System.heap(),
  after: (ms, callback) => void after(ms, callback),
  restart,
});
installOtaService(rpc, {
  slots,
  boot,
  updater: new Updater(slots, boot, { after }),
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

startUartChannel(rpc, (onReadable) => new Serial({ baud: 115200, format: "buffer", onReadable }));
startHttpChannel(rpc, serveHttp);

announceReady({ deviceId, version: app.version });
log.info("main", "RPC ready on UART0 and HTTP /rpc");
