// What Moddable SDK 7.2.1's `socket` has (modules/network/socket/socket.js)
// and @moddable/typings 5.6.0 does not declare. Both type checks read it.
import "socket";

declare module "socket" {
  interface Listener {
    close(): void;
  }
}
