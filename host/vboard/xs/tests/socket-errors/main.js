// Constructor errors in the device's words, and a refused connect.
import Socket from "socket";
import config from "mc/config";

const { Socket: TCP, Listener } = Socket;
for (const dictionary of [{ kind: "UDP", port: 5 }, { kind: "RAW" }, { kind: "SCTP" }, { port: 80 }, { address: "1.2.3.4.5", port: 80 }, { address: "not an address", port: 80 }])
  try { new TCP(dictionary); trace(`made ${JSON.stringify(dictionary)}\n`); } catch (error) { trace(`${JSON.stringify(dictionary)}: ${error}\n`); }
try { new Listener({ port: config.port, address: "nowhere" }); } catch (error) { trace(`listener: ${error}\n`); }
try { new Listener({ port: config.busyPort }); } catch (error) { trace(`busy: ${error}\n`); }
trace(`frozen ${Object.isFrozen(Socket)} ${Object.isFrozen(TCP.prototype)} ${TCP.connected} ${TCP.readable} ${TCP.writable} ${TCP.disconnected} ${TCP.error}\n`);

const refused = new TCP({ host: "localhost", port: config.port });
refused.callback = function (message) {
  trace(`refused: message ${message}, remote ${this.get("REMOTE_IP")}, room ${this.write()}\n`);
  this.write("ignored");
  this.close();
};
const unknown = new TCP({ host: "", port: 80 });   // resolves to nothing, without asking a DNS server
unknown.callback = function (message) {
  trace(`unresolved: message ${message}\n`);
  this.close();
};
