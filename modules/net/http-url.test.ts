import assert from "node:assert/strict";
import { MAX_URL_LENGTH, parseHttpUrl } from "./http-url.ts";

describe("ESP32 download URLs", () => {
  it("splits host, port, Host header and request path", () => {
    assert.deepEqual(parseHttpUrl("http://fw.example.com/v2/fw.zip?x=1"), { host: "fw.example.com", port: 80, authority: "fw.example.com", path: "/v2/fw.zip?x=1" });
    assert.deepEqual(parseHttpUrl("http://10.0.0.5:8080"), { host: "10.0.0.5", port: 8080, authority: "10.0.0.5:8080", path: "/" });
    assert.deepEqual(parseHttpUrl("http://h?q"), { host: "h", port: 80, authority: "h", path: "/?q" });
    assert.deepEqual(parseHttpUrl("http://[fe80::1]:81/a#frag"), { host: "fe80::1", port: 81, authority: "[fe80::1]:81", path: "/a" });
  });
  it("decodes credentials for Basic authentication", () => {
    assert.deepEqual(parseHttpUrl("http://me:p%40ss@h/f"), { host: "h", port: 80, authority: "h", path: "/f", userinfo: "me:p@ss" });
  });
  it("says why it cannot fetch https, other schemes, bad ports and bad escapes", () => {
    assert.match(String(parseHttpUrl("https://h/f")), /https is not supported/);
    assert.match(String(parseHttpUrl("ftp://h/f")), /not an http:\/\/ URL/);
    assert.match(String(parseHttpUrl("http://h:0/")), /bad port/);
    assert.match(String(parseHttpUrl("http://h:70000/")), /bad port/);
    assert.match(String(parseHttpUrl("http://%zz@h/")), /malformed user name/);
    assert.equal(parseHttpUrl("http://h:80:81/x"), "http://h:80:81/x: not an http:// URL");
  });
  it(`takes URLs of up to ${MAX_URL_LENGTH} characters and says how long a longer one is`, () => {
    const longest = "http://h/" + "p".repeat(MAX_URL_LENGTH - 9);
    assert.equal((parseHttpUrl(longest) as { path: string }).path.length, MAX_URL_LENGTH - 8);
    assert.equal(parseHttpUrl(longest + "p"), `URL is too long: ${MAX_URL_LENGTH + 1} characters, at most ${MAX_URL_LENGTH}`);
    assert.equal(parseHttpUrl("ftp://h/" + "p".repeat(5000)), `URL is too long: 5008 characters, at most ${MAX_URL_LENGTH}`);
  });
});
