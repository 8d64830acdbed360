import { randomBytes, createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { CreativeFetcher } from "../../../agent/playback/creatives/index.js";
import type { FetchDeps } from "../../../agent/playback/creatives/fetch.js";
import { tempDir } from "../../helpers/tmp.js";
import { startServer, type TestServer } from "./server.js";
import { refusal } from "./setup.js";

const tmp = tempDir("ledagent-fetch-");
const body = randomBytes(256 * 1024);
const hash = createHash("sha256").update(body).digest("hex");
let server: TestServer;
let n = 0;

function fetcher(extra: Partial<FetchDeps> = {}): { fetcher: CreativeFetcher; dir: string } {
  const dir = join(tmp.dir, `staging-${++n}`);
  return { dir, fetcher: new CreativeFetcher({ stagingDir: dir, maxBytes: 10 * 1024 * 1024, timeoutMs: 10_000, log: silentLogger(), attempts: 3, backoffMs: () => 10, stallMs: 2000, ...extra }) };
}

beforeAll(async () => {
  server = await startServer({
    "/ok": { body },
    "/cut": { body, cutAfter: 100 * 1024, cuts: 1 },
    "/cut-twice": { body, cutAfter: 64 * 1024, cuts: 2 },
    "/cut-no-ranges": { body, cutAfter: 100 * 1024, cuts: 1, noRanges: true },
    "/flaky": { body, failStatus: 503, failures: 2 },
    "/down": { body, failStatus: 500 },
    "/forbidden": { body, failStatus: 403 },
    "/empty": { body: Buffer.alloc(0) },
  });
});

afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

describe("CreativeFetcher", () => {
  it("downloads and verifies, naming the staging file after the hash", async () => {
    const { fetcher: f } = fetcher();
    const staged = await f.fetch(server.url("/ok"), hash);
    expect(staged.sha256).toBe(hash);
    expect(staged.path.endsWith(`${hash}.part`)).toBe(true);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
  });

  it("resumes after a cut connection with a Range request", async () => {
    const { fetcher: f } = fetcher();
    const staged = await f.fetch(server.url("/cut"), hash);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
    const seen = server.requests.filter((r) => r.path === "/cut");
    expect(seen).toHaveLength(2);
    expect(seen[0].range).toBeUndefined();
    expect(seen[1].range).toBe(`bytes=${100 * 1024}-`);
  });

  it("resumes a part left by an earlier run", async () => {
    const { fetcher: f, dir } = fetcher();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${hash}.part`), body.subarray(0, 5000));
    await f.fetch(server.url("/ok"), hash);
    expect(server.requests.at(-1)?.range).toBe("bytes=5000-");
  });

  it("starts over from a stale part that does not verify", async () => {
    const { fetcher: f, dir } = fetcher();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${hash}.part`), randomBytes(5000));
    const staged = await f.fetch(server.url("/ok"), hash);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
  });

  it("starts over when the server ignores Range", async () => {
    const { fetcher: f } = fetcher();
    const staged = await f.fetch(server.url("/cut-no-ranges"), hash);
    expect(readFileSync(staged.path).equals(body)).toBe(true);
  });

  it("retries server errors with backoff", async () => {
    const delays: number[] = [];
    const { fetcher: f } = fetcher({ backoffMs: (retry) => (delays.push(retry), 10) });
    await f.fetch(server.url("/flaky"), hash);
    expect(delays).toEqual([1, 2]);
  });

  it("gives up after its attempts, keeping the part to resume later", async () => {
    const { fetcher: f, dir } = fetcher({ attempts: 2 });
    const err = await refusal(f.fetch(server.url("/down"), hash));
    expect(err.reason).toBe("fetch-failed");
    expect(err.message).toMatch(/HTTP 500.*2 attempts/);
    expect(readdirSync(dir)).toEqual([]);
    const cut = fetcher({ attempts: 1 });
    expect((await refusal(cut.fetcher.fetch(server.url("/cut-twice"), hash))).reason).toBe("fetch-failed");
    expect(existsSync(join(cut.dir, `${hash}.part`))).toBe(true);
  });

  it("names the cause of a failed connection (a closed local port: ECONNREFUSED)", async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await refusal(fetcher({ attempts: 2 }).fetcher.fetch(`http://127.0.0.1:${port}/clip.mp4`, hash));
    expect(err.reason).toBe("fetch-failed");
    expect(err.message).toBe(`fetch-failed: fetch failed: ECONNREFUSED 127.0.0.1:${port} (after 2 attempts)`);
  });

  const causes: [string, unknown, string][] = [
    ["a name that does not resolve", Object.assign(new Error("getaddrinfo ENOTFOUND cdn.invalid"), { code: "ENOTFOUND", hostname: "cdn.invalid" }), "fetch failed: ENOTFOUND cdn.invalid"],
    [
      "every address refused (happy eyeballs)",
      Object.assign(new AggregateError([Object.assign(new Error("connect ECONNREFUSED ::1:8080"), { code: "ECONNREFUSED" }), Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8080"), { code: "ECONNREFUSED" })], ""), { code: "ECONNREFUSED" }),
      "fetch failed: ECONNREFUSED ::1:8080, ECONNREFUSED 127.0.0.1:8080",
    ],
    ["a connect timeout", Object.assign(new Error("connect ETIMEDOUT 203.0.113.7:443"), { code: "ETIMEDOUT" }), "fetch failed: ETIMEDOUT 203.0.113.7:443"],
    ["an expired certificate", Object.assign(new Error("certificate has expired"), { code: "CERT_HAS_EXPIRED" }), "fetch failed: CERT_HAS_EXPIRED (certificate has expired)"],
    ["TLS spoken to a plain port", Object.assign(new Error("80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl3_record.c:350:\n"), { code: "ERR_SSL_WRONG_VERSION_NUMBER" }), "fetch failed: ERR_SSL_WRONG_VERSION_NUMBER"],
    ["a fetch-spec bad port", new Error("bad port"), "fetch failed: bad port"],
  ];
  for (const [what, cause, expected] of causes) {
    it(`names the cause of ${what}`, async () => {
      const fetchImpl = (() => Promise.reject(new TypeError("fetch failed", { cause }))) as typeof fetch;
      const err = await refusal(fetcher({ attempts: 1, fetchImpl }).fetcher.fetch("https://cdn.invalid/clip.mp4", hash));
      expect(err.message).toBe(`fetch-failed: ${expected} (after 1 attempt)`);
    });
  }

  const refusals: [string, string, string | null, Partial<FetchDeps>, string][] = [
    ["a 404", "/missing", hash, {}, "not-found"],
    ["a 403 (not retried)", "/forbidden", hash, {}, "fetch-failed"],
    ["bytes with another hash", "/ok", "0".repeat(64), {}, "hash-mismatch"],
    ["a body over the size limit", "/ok", hash, { maxBytes: 1000 }, "too-large"],
    ["a malformed sha256", "/ok", "XYZ", {}, "bad-sha256"],
  ];
  for (const [what, path, expected, deps, reason] of refusals) {
    it(`refuses ${what}`, async () => {
      const { fetcher: f, dir } = fetcher(deps);
      const err = await refusal(f.fetch(server.url(path), expected));
      expect(err.reason).toBe(reason);
      if (existsSync(dir)) expect(readdirSync(dir)).toEqual([]);
    });
  }

  it("refuses a 404 after a single request", async () => {
    const before = server.requests.filter((r) => r.path === "/missing-once").length;
    await refusal(fetcher().fetcher.fetch(server.url("/missing-once"), hash));
    expect(server.requests.filter((r) => r.path === "/missing-once").length - before).toBe(1);
  });

  it("refuses URL schemes other than https, http and file", async () => {
    expect((await refusal(fetcher().fetcher.fetch("ftp://127.0.0.1/x.mp4", hash))).reason).toBe("bad-url");
    expect((await refusal(fetcher().fetcher.fetch("not a url", hash))).reason).toBe("bad-url");
  });

  it("gives up at the time limit", async () => {
    const { fetcher: f } = fetcher({ timeoutMs: 300, backoffMs: () => 1000, attempts: 5 });
    expect((await refusal(f.fetch(server.url("/down"), hash))).reason).toBe("timeout");
  });

  it("copies file: URLs and reports the hash when none was given", async () => {
    const src = join(tmp.dir, "local.bin");
    writeFileSync(src, body);
    const staged = await fetcher().fetcher.fetch(pathToFileURL(src).href, null);
    expect(staged.sha256).toBe(hash);
    const err = await refusal(fetcher().fetcher.fetch(pathToFileURL(join(tmp.dir, "nope.bin")).href, null));
    expect(err.reason).toBe("not-found");
  });

  it("accepts an empty body that hashes right (the probe refuses it later)", async () => {
    const empty = createHash("sha256").update(Buffer.alloc(0)).digest("hex");
    const staged = await fetcher().fetcher.fetch(server.url("/empty"), empty);
    expect(staged.bytes).toBe(0);
  });
});
