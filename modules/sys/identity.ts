// Who the device says it is: Mongoose's device.id template ("esp32_??????",
// the question marks replaced by the last hex digits of the MAC) and its
// build id ("YYYYMMDD-HHMMSS/<version>", from the app descriptor's build date
// and time), which fw.zip manifests carry as build_id.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function deviceIdFromMac(mac: string, template = "esp32_??????"): string {
  const hex = mac.replace(/[^0-9A-Fa-f]/g, "").toUpperCase();
  return template.replace(/\?+/, (marks) => (marks.length % 2 === 0 && marks.length <= hex.length ? hex.slice(hex.length - marks.length) : marks));
}

/** Build id from __DATE__/__TIME__-style fields ("Nov 27 2026", "09:53:00"). */
export function buildId(date: string, time: string, version: string): string {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{4})$/.exec(date.trim());
  const t = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time.trim());
  if (!m || !t || MONTHS.indexOf(m[1]!) < 0) return version;
  const month = String(MONTHS.indexOf(m[1]!) + 1).padStart(2, "0");
  return `${m[3]}${month}${m[2]!.padStart(2, "0")}-${t[1]}${t[2]}${t[3]}/${version}`;
}
