// OTA.Update's download policy against a scripted HTTP client: redirects to
// URLs it cannot use are refused before a request is made, and a download
// that has ended stops its request once, however often it is cancelled.
import assert from "node:assert/strict";
import type { HttpClientPort, HttpGetHandlers } from "platform/ports";
import { MAX_URL_LENGTH } from "net/http-url";
import { Download, resolveUrl, urlRefusal } from "ota/downloader";
import type { UpdateError } from "ota/update-error";

/** A client whose requests the test answers; cancelling one twice throws, as Moddable's Timer.clear does on a dead timer. */
class ScriptedClient implements HttpClientPort {
  readonly requests: Array<{ url: string; handlers: HttpGetHandlers; cancels: number }> = [];

  get(url: string, _headers: Readonly<Record<string, string>>, handlers: HttpGetHandlers): { cancel(): void } {
    const request = { url, handlers, cancels: 0 };
    this.requests.push(request);
    return {
      cancel() {
        if (++request.cancels > 1) throw new SyntaxError("C: xsGetHostData: invalid");
      },
    };
  }

  get last(): HttpGetHandlers {
    return this.requests[this.requests.length - 1]!.handlers;
  }
}

function startDownload(url: string) {
  const client = new ScriptedClient();
  const ends: Array<UpdateError | undefined> = [];
  const target = { received: 0, complete: false, feed() {} };
  const download = new Download(client, url, target, (error) => ends.push(error));
  return { client, ends, download };
}

describe("OTA.Update download policy", () => {
  it("says why a URL cannot be downloaded, and passes one it can", () => {
    assert.equal(urlRefusal("http://h/fw.zip"), undefined);
    assert.equal(urlRefusal("http://h/" + "p".repeat(2100)), `URL is too long: 2109 characters, at most ${MAX_URL_LENGTH}`);
    assert.match(urlRefusal("https://h/fw.zip")!, /https is not supported/);
    assert.match(urlRefusal("ftp://h/fw.zip")!, /not an http:\/\/ URL/);
    assert.match(urlRefusal("http://h:99999/x")!, /bad port/);
  });

  it("follows a redirect to a usable URL", () => {
    const { client, ends } = startDownload("http://h/a/fw.zip");
    client.last.onHeaders(302, { location: "b.zip" });
    assert.deepEqual(client.requests.map((r) => r.url), ["http://h/a/fw.zip", "http://h/a/b.zip"]);
    assert.deepEqual(ends, []);
  });

  it("refuses a redirect to a URL too long, https or another scheme without requesting it (-38)", () => {
    const long = "http://h/" + "a".repeat(3000);
    for (const [location, detail] of [
      [long, `redirected to an unusable URL: URL is too long: ${long.length} characters, at most ${MAX_URL_LENGTH}`],
      ["https://h/fw.zip", "redirected to an unusable URL: https://h/fw.zip: https is not supported by this firmware (no TLS certificates built in); use http"],
      ["ftp://h/fw.zip", "redirected to an unusable URL: ftp://h/fw.zip: not an http:// URL"],
    ]) {
      const { client, ends } = startDownload("http://h/fw.zip");
      client.last.onHeaders(303, { location: location! });
      assert.equal(client.requests.length, 1, location!.slice(0, 40));
      assert.equal(ends.length, 1);
      assert.equal(ends[0]!.code, -38);
      assert.equal(ends[0]!.message, `Failed to connect: ${detail}`);
    }
  });

  it("stops its request once, though its owner cancels it again from the end callback", () => {
    const client = new ScriptedClient();
    const ends: Array<UpdateError | undefined> = [];
    // The service's updater.abort() cancels the download that is reporting its end.
    const download: Download = new Download(client, "http://h/fw.zip", { received: 0, complete: false, feed() {} }, (error) => {
      ends.push(error);
      download.cancel();
    });
    client.last.onError("cannot connect to h:80");
    download.cancel();
    assert.equal(client.requests[0]!.cancels, 1);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.message, "Failed to connect: cannot connect to h:80");
  });

  it("resolves a Location against the URL it came from", () => {
    assert.equal(resolveUrl("http://h/a/b.zip", "/c.zip"), "http://h/c.zip");
    assert.equal(resolveUrl("http://h/a/b.zip", "c.zip"), "http://h/a/c.zip");
    assert.equal(resolveUrl("http://h/a/b.zip", "//g/c.zip"), "http://g/c.zip");
    assert.equal(resolveUrl("http://h/a/b.zip", "http://g/c.zip"), "http://g/c.zip");
  });
});
