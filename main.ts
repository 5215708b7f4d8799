// Firmware entry: identity, the RPC services, then the channels. Order
// matters: every service is registered before a channel can deliver a call.

import Serial from "embedded:io/serial";
import Timer from "timer";
import System from "board/system";
import { serveHttp } from "board/http-server";
import { announceReady } from "board/ready";
import { Dispatcher } from "rpc/dispatcher";
import { startHttpChannel } from "rpc/http-channel";
import { startUartChannel } from "rpc/uart-channel";
import { deviceIdFromMac } from "sys/identity";
import { configureLog, log } from "sys/log";
import { installRpcService } from "sys/rpc-service";
import { installSysService } from "sys/sys-service";

configureLog(
  (line) => trace(line),
  () => System.uptimeUs() / 1000,
);

const app = System.appDescription();
const mac = System.mac();
const deviceId = deviceIdFromMac(mac);
log.info("main", `${app.projectName} ${app.version} starting, device id ${deviceId}`);

const rpc = new Dispatcher(() => deviceId);
rpc.onDrop = (reason, channel) => log.warn("rpc", `${channel.type}: frame dropped: ${reason}`);
installRpcService(rpc);
installSysService(rpc, {
  deviceId,
  mac,
  app,
  uptimeUs: () => System.uptimeUs(),
  heap: () => System.heap(),
  after: (ms, callback) => void Timer.set(() => callback(), ms),
  restart: () => {
    log.info("main", "restarting");
    System.restart();
  },
});

startUartChannel(rpc, (onReadable) => new Serial({ baud: 115200, format: "buffer", onReadable }));
startHttpChannel(rpc, serveHttp);

announceReady({ deviceId, version: app.version });
log.info("main", "RPC ready on UART0 and HTTP /rpc");
