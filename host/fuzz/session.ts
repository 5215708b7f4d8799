// What run.ts and replay.ts share: a board for a transport (with a
// mosquitto for MQTT), the generation context read from the board itself
// (RPC.List and RPC.Describe), and the target objects.

import { startMosquitto, type Mosquitto } from "../../test/mosquitto.ts";
import { FuzzBoard, type FuzzFirmware } from "./board.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import { parseArgsFmt, type MethodInfo } from "./json-gen.ts";
import { GUARDED_METHODS, SAFE_METHODS } from "./policy.ts";
import { DEVICE_ID_PLACEHOLDER, type FuzzTarget, type GenContext, type TransportName } from "./target.ts";
import { HttpTarget } from "./targets/http.ts";
import { MqttTarget } from "./targets/mqtt.ts";
import { OtaPushTarget, OtaUpdateTarget } from "./targets/ota.ts";
import { UartTarget } from "./targets/uart.ts";
import { WsTarget } from "./targets/ws.ts";

export function makeTarget(name: TransportName, fw: FuzzFirmware): FuzzTarget<unknown> {
  switch (name) {
    case "uart":
      return new UartTarget() as FuzzTarget<unknown>;
    case "http":
      return new HttpTarget() as FuzzTarget<unknown>;
    case "ws":
      return new WsTarget() as FuzzTarget<unknown>;
    case "mqtt":
      return new MqttTarget() as FuzzTarget<unknown>;
    case "ota-push":
      return new OtaPushTarget(fw) as FuzzTarget<unknown>;
    case "ota-update":
      return new OtaUpdateTarget(fw) as FuzzTarget<unknown>;
  }
}

/** The methods the board lists, with their argument formats. */
export async function readMethods(board: FuzzBoard): Promise<MethodInfo[]> {
  const names = (await board.rpc.call("RPC.List")) as string[];
  const out: MethodInfo[] = [];
  for (const name of names) {
    const d = (await board.rpc.call("RPC.Describe", { name })) as { args_fmt?: string };
    out.push({ name, fields: parseArgsFmt(d.args_fmt ?? "") });
  }
  return out;
}

export function genContext(board: FuzzBoard, methods: MethodInfo[], print: (line: string) => void): GenContext {
  const safe = methods.filter((m) => SAFE_METHODS.has(m.name));
  const guarded = methods.filter((m) => GUARDED_METHODS.has(m.name) && m.fields.some((f) => f.type !== "T"));
  const skipped = methods.filter((m) => !SAFE_METHODS.has(m.name) && !guarded.includes(m)).map((m) => m.name);
  if (skipped.length) print(`not called (effect unknown to host/fuzz/policy.ts): ${skipped.join(", ")}`);
  return { deviceId: DEVICE_ID_PLACEHOLDER, methods, frames: { deviceId: DEVICE_ID_PLACEHOLDER, safe, guarded }, httpPort: Number(new URL(board.httpUrl).port) };
}

/** Sessions still open: closed on SIGINT/SIGTERM so no board or broker outlives the run. */
const open = new Set<Session>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void Promise.allSettled([...open].map((s) => s.close())).then(() => process.exit(130));
  });
}

export interface Session {
  readonly board: FuzzBoard;
  readonly target: FuzzTarget<unknown>;
  readonly engine: Engine<unknown>;
  close(): Promise<void>;
}

/** A fresh board (and broker, for MQTT) with the target set up and the baseline taken. */
export async function openSession(name: TransportName, fw: FuzzFirmware, options: EngineOptions): Promise<Session> {
  let broker: Mosquitto | undefined;
  if (name === "mqtt") broker = await startMosquitto();
  const board = await FuzzBoard.start(fw, { mqttUrl: broker?.url });
  const target = makeTarget(name, fw);
  try {
    const ctx = genContext(board, await readMethods(board), options.print);
    await target.setup(board, ctx);
    const engine = new Engine(board, target, ctx, options);
    await engine.start();
    const session: Session = {
      board,
      target,
      engine,
      close: async () => {
        open.delete(session);
        await target.teardown().catch(() => undefined);
        await board.close();
        await broker?.close();
      },
    };
    open.add(session);
    return session;
  } catch (e) {
    await target.teardown().catch(() => undefined);
    await board.close();
    await broker?.close();
    throw e;
  }
}
