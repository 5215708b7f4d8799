// The USB vendor and product ids of a serial device, what Web Serial's
// getInfo() reports and esptool-js reads to pick a reset sequence (Espressif's
// USB-Serial/JTAG needs its own). On Linux they are in sysfs above the tty's
// device; a pseudo-terminal or another system has none, which is what
// getInfo() says for a port that is not USB.

import fs from "node:fs";
import path from "node:path";

export interface UsbIds {
  usbVendorId?: number;
  usbProductId?: number;
}

export function usbIdsOf(devicePath: string): UsbIds {
  try {
    const name = path.basename(fs.realpathSync(devicePath));
    let dir = fs.realpathSync(`/sys/class/tty/${name}/device`);
    // Walk up from the tty's interface to the USB device, which carries idVendor.
    for (let depth = 0; depth < 6 && dir !== "/"; depth++, dir = path.dirname(dir)) {
      const vendor = path.join(dir, "idVendor");
      if (fs.existsSync(vendor)) {
        return {
          usbVendorId: parseInt(fs.readFileSync(vendor, "utf8"), 16),
          usbProductId: parseInt(fs.readFileSync(path.join(dir, "idProduct"), "utf8"), 16),
        };
      }
    }
  } catch {
    // no sysfs entry: not a USB device (or not Linux)
  }
  return {};
}
