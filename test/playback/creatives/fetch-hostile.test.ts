// Hostile and broken creative servers: permanent errors fail after one request and leave no
// part; transient ones retry; a server that drips is cut and resumed; an interrupted fetch
// leaves exactly the one part a resume needs.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { CreativeFetcher } from "../../../agent/playback/creatives/index.js";
import type { FetchDeps } from "../../../agent/playback/creatives/fetch.js";
import { MAX_REDIRECTS } from "../../../agent/playback/creatives/http.js";
import { tempDir } from "../../helpers/tmp.js";
import { startServer, type Route, type TestServer } from "./server.js";
import { refusal } from "./setup.js";

const tmp = tempDir("ledagent-fetch-hostile-");
const body = randomBytes(64 * 1024);
const hash = createHash("sha256").update(body).digest("hex");
let server: TestServer;
let n = 0;

function fetcher(extra: Partial<FetchDeps> = {}): { fetcher: CreativeFetcher; dir: string } {
  const dir = join(tmp.dir, `staging-${++n}`);
  return { dir, fetcher: new CreativeFetcher({ stagingDir: dir, maxBytes: 10 * 1024 * 1024, timeoutMs: 20_000, log: silentLogger(), attempts: 3, backoffMs: () => 10, stallMs: 5000, ...extra }) };
}

const requestsTo = (prefix: string): number => server.requests.filter((r) => r.path.startsWith(prefix)).length;

beforeAll(async () => {
  const hops: Record<string, Route> = {};
  // A chain one longer than the limit: /hop/0 → /hop/1 → … → /hop/<MAX+1>.
  for (let i = 0; i <= MAX_REDIRECTS; i++) hops[`/hop/${i}`] = { body, redirectTo: `/hop/${i + 1}` };
  server = await startServer({
    ...hops,
    "/ok": { body },
    "/to-file": { body, redirectTo: "file:///etc/passwd" },
    "/to-data": { body, redirectTo: "data:text/plain,hello" },
    "/to-ok": { body, redirectTo: "/ok" },
    "/loop-a": { body, redirectTo: "/loop-b" },
    "/loop-b": { body, redirectTo: "/loop-a" },
    "/forbidden": { body, failStatus: 403 },
    "/unauthorised": { body, failStatus: 401 },
    "/busy": { body, failStatus: 429, failures: 1 },
    "/request-timeout": { body, failStatus: 408, failures: 1 },
    "/huge-length": { body, announce: 50 * 1024 * 1024 * 1024 },
    "/huge-range": { body, announce: 50 * 1024 * 1024 * 1024 },
    "/mismatch": { body: randomBytes(1000) },
    "/drip": { body, drip: { bytes: 256, everyMs: 50 } },
    "/drip-always": { body, drip: { bytes: 256, everyMs: 50, requests: 1000 } },
    "/slow-for-abort": { body, drip: { bytes: 4096, everyMs: 20 } },
  });
});

afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

describe("permanent fetch errors fail after one request and keep no part", () => {
  const permanent: [string, string, string, RegExp][] = [
    ["a redirect to file:", "/to-file", "bad-redirect", /redirects to a file: URL/],
    ["a redirect to data:", "/to-data", "bad-redirect", /redirects to a data: URL/],
    ["a 403", "/forbidden", "fetch-failed", /HTTP 403.*not retried/],
    ["a 401", "/unauthorised", "fetch-failed", /HTTP 401/],
    ["a Content-Length over creatives.maxBytes", "/huge-length", "too-large", /53687091200 bytes announced.*creatives\.maxBytes/],
    ["bytes that do not hash right", "/mismatch", "hash-mismatch", /the schedule says/],
  ];
  for (const [what, path, reason, message] of permanent) {
    it(`${what}: ${reason}`, async () => {
      const { fetcher: f, dir } = fetcher();
      const before = requestsTo(path);
      const err = await refusal(f.fetch(server.url(path), hash));
      expect(err.reason).toBe(reason);
      expect(err.message).toMatch(message);
      expect(requestsTo(path) - before).toBe(1);
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    });
  }

  it("a Content-Range total over creatives.maxBytes, on resuming a part: too-large, and the part is dropped", async () => {
    const { fetcher: f, dir } = fetcher();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${hash}.part`), body.subarray(0, 5000));
    const before = requestsTo("/huge-range");
    const err = await refusal(f.fetch(server.url("/huge-range"), hash));
    expect(err.reason).toBe("too-large");
    expect(requestsTo("/huge-range") - before).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a redirect loop: bad-redirect after one pass round it", async () => {
    const before = requestsTo("/loop-");
    const err = await refusal(fetcher().fetcher.fetch(server.url("/loop-a"), hash));
    expect(err.reason).toBe("bad-redirect");
    expect(err.message).toMatch(/redirect loop: back to .*\/loop-a after 2 redirects/);
    expect(requestsTo("/loop-") - before).toBe(2);
  });

  it(`more than ${MAX_REDIRECTS} redirects: bad-redirect, the chain walked once`, async () => {
    const before = requestsTo("/hop/");
    const err = await refusal(fetcher().fetcher.fetch(server.url("/hop/0"), hash));
    expect(err.reason).toBe("bad-redirect");
    expect(err.message).toMatch(new RegExp(`more than ${MAX_REDIRECTS} redirects`));
    expect(requestsTo("/hop/") - before).toBe(MAX_REDIRECTS + 1);
  });

  it("a part left by an earlier run is removed when the server refuses for good", async () => {
    const { fetcher: f, dir } = fetcher();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${hash}.part`), body.subarray(0, 5000));
    expect((await refusal(f.fetch(server.url("/forbidden"), hash))).reason).toBe("fetch-failed");
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("transient errors still retry", () => {
  it("follows an http redirect to the bytes", async () => {
    const staged = await fetcher().fetcher.fetch(server.url("/to-ok"), hash);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
  });

  for (const [status, path] of [[429, "/busy"], [408, "/request-timeout"]] as const) {
    it(`a ${status} is retried`, async () => {
      const before = requestsTo(path);
      await fetcher().fetcher.fetch(server.url(path), hash);
      expect(requestsTo(path) - before).toBe(2);
    });
  }
});

describe("a server that drips", () => {
  const slowLimit = { minRateBytesPerS: 16 * 1024, minRateWindowMs: 300 };

  it("is cut after a window below the minimum rate, and the fetch resumes from what it has", async () => {
    const { fetcher: f } = fetcher(slowLimit);
    const staged = await f.fetch(server.url("/drip"), hash);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
    const seen = server.requests.filter((r) => r.path === "/drip");
    expect(seen).toHaveLength(2);
    expect(seen[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("that never speeds up: fetch-failed naming the rate, the part kept to resume later", async () => {
    const { fetcher: f, dir } = fetcher({ ...slowLimit, attempts: 1 });
    const err = await refusal(f.fetch(server.url("/drip-always"), hash));
    expect(err.reason).toBe("fetch-failed");
    expect(err.message).toMatch(/slower than 16384 bytes\/s: \d+ bytes in 0\.3 s \(creatives\.minRateBytesPerS/);
    expect(readdirSync(dir)).toEqual([`${hash}.part`]);
    expect(statSync(join(dir, `${hash}.part`)).size).toBeGreaterThan(0);
  });
});

describe("an interrupted fetch", () => {
  it("leaves one part named by the hash, which the next fetch resumes", async () => {
    const { fetcher: f, dir } = fetcher();
    const stop = new AbortController();
    const work = f.fetch(server.url("/slow-for-abort"), hash, (got) => {
      if (got >= 16 * 1024) stop.abort();
    }, stop.signal);
    await expect(work).rejects.toMatchObject({ name: "AbortError" });
    expect(readdirSync(dir)).toEqual([`${hash}.part`]);
    const kept = statSync(join(dir, `${hash}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    // The same staging directory, a new fetcher (a new run): it resumes where the part ends.
    const again = new CreativeFetcher({ stagingDir: dir, maxBytes: 10 * 1024 * 1024, timeoutMs: 20_000, log: silentLogger(), backoffMs: () => 10 });
    const resumed = await again.fetch(server.url("/slow-for-abort"), hash);
    expect(readFileSync(resumed.path).equals(body)).toBe(true);
    expect(server.requests.filter((r) => r.path === "/slow-for-abort").at(-1)?.range).toBe(`bytes=${kept}-`);
    expect(readdirSync(dir)).toEqual([`${hash}.part`]);
  });
});
