// Brings a creative's bytes from its URL into a staging file and verifies their SHA-256.
// Interrupted HTTP downloads resume with a Range request (the staging file is named after
// the expected hash, so a part left by an earlier run resumes too); transient failures retry
// with exponential backoff; size and time limits hold across retries.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../log.js";
import { CreativeRejected, errorLine } from "./errors.js";

export interface FetchDeps {
  stagingDir: string;
  maxBytes: number;
  /** Whole fetch, retries included. */
  timeoutMs: number;
  log: Logger;
  /** Tries per fetch, the first included. */
  attempts?: number;
  /** An attempt that receives nothing for this long is abandoned (and retried). */
  stallMs?: number;
  backoffMs?: (retry: number) => number;
  fetchImpl?: typeof fetch;
}

export interface StagedFile {
  /** Verified bytes, in the staging directory; the cache moves them into place. */
  path: string;
  sha256: string;
  bytes: number;
}

export type FetchProgress = (receivedBytes: number, totalBytes: number | null) => void;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** An attempt failed in a way that another attempt may fix. */
class TransientFetchError extends Error {}

export function defaultBackoffMs(retry: number): number {
  return Math.min(30_000, 1000 * 2 ** (retry - 1));
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Counts bytes as they pass, enforces the size limit and reports progress. */
function byteCounter(start: number, maxBytes: number, total: number | null, onProgress?: FetchProgress): Transform {
  let received = start;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > maxBytes) {
        done(new CreativeRejected("too-large", `more than the ${maxBytes}-byte limit (creatives.maxBytes)`));
        return;
      }
      onProgress?.(received, total);
      done(null, chunk);
    },
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

interface CauseFields {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** One cause as a few words: "ECONNREFUSED 127.0.0.1:9", "ENOTFOUND cdn.example", "CERT_HAS_EXPIRED (certificate has expired)". */
function causeDetail(cause: unknown, depth: number): string {
  if (typeof cause === "string") return cause;
  if (typeof cause !== "object" || cause === null || depth > 3) return "";
  const c = cause as CauseFields;
  // Happy eyeballs tries every address: an AggregateError with one error each.
  if (Array.isArray(c.errors) && c.errors.length > 0) {
    const each = [...new Set(c.errors.map((e: unknown) => causeDetail(e, depth + 1)).filter((d) => d !== ""))];
    if (each.length > 0) return each.join(", ");
  }
  const code = typeof c.code === "string" ? c.code : "";
  const message = typeof c.message === "string" ? (c.message.split("\n").find((l) => l.trim() !== "") ?? "").trim() : "";
  // Node's system errors read "<syscall> <CODE> <address>": keep from the code on.
  if (code !== "" && message.includes(code)) return message.slice(message.indexOf(code));
  // OpenSSL's own message is a line of library internals; undici's codes say less than its message.
  if (code.startsWith("ERR_SSL_")) return code;
  if (code.startsWith("UND_ERR_")) return message || code;
  if (message === "") return code || causeDetail(c.cause, depth + 1);
  return code === "" ? message : `${code} (${message})`;
}

/** A failed attempt in one line, with what undici's "fetch failed" leaves in its `cause`. */
export function fetchProblem(err: unknown): string {
  const line = errorLine(err);
  const detail = typeof err === "object" && err !== null ? causeDetail((err as CauseFields).cause, 0) : "";
  return detail !== "" && !line.includes(detail) ? `${line}: ${detail}` : line;
}

export class CreativeFetcher {
  constructor(private readonly deps: FetchDeps) {}

  /**
   * Fetches `url` into staging and checks it hashes to `expectedSha256` (lowercase hex).
   * With no expected hash (a technician's local file) the bytes' own hash is reported.
   */
  async fetch(url: string, expectedSha256: string | null, onProgress?: FetchProgress): Promise<StagedFile> {
    if (expectedSha256 !== null && !SHA256_HEX.test(expectedSha256)) {
      throw new CreativeRejected("bad-sha256", `${JSON.stringify(expectedSha256)} is not 64 lowercase hex digits`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CreativeRejected("bad-url", `${JSON.stringify(url)} is not a URL`);
    }
    await mkdir(this.deps.stagingDir, { recursive: true });
    // Named after the expected hash, never the URL: a later run finds the part and resumes.
    const part = join(this.deps.stagingDir, `${expectedSha256 ?? `unverified-${randomUUID()}`}.part`);
    const deadline = AbortSignal.timeout(this.deps.timeoutMs);
    const resumedOldPart = expectedSha256 !== null && (await sizeOf(part)) > 0;
    try {
      const http = parsed.protocol === "http:" || parsed.protocol === "https:";
      if (parsed.protocol === "file:") await this.copyFile(parsed, part, onProgress);
      else if (http) await this.download(url, part, deadline, onProgress);
      else throw new CreativeRejected("bad-url", `${parsed.protocol} URLs are not fetched (only https:, http: and file:)`);
      let sha256 = await sha256OfFile(part);
      if (http && expectedSha256 !== null && sha256 !== expectedSha256 && resumedOldPart) {
        // A part left by an earlier run may hold bytes of an older object at the same URL.
        this.deps.log.warn({ url }, "resumed download does not verify; fetching it again from the start");
        await rm(part, { force: true });
        await this.download(url, part, deadline, onProgress);
        sha256 = await sha256OfFile(part);
      }
      if (expectedSha256 !== null && sha256 !== expectedSha256) {
        throw new CreativeRejected("hash-mismatch", `the bytes hash to ${sha256}, the schedule says ${expectedSha256}`);
      }
      await syncFile(part);
      return { path: part, sha256, bytes: await sizeOf(part) };
    } catch (err) {
      // A part worth resuming is kept; anything refused on its content is not.
      const keep = err instanceof CreativeRejected ? err.reason === "timeout" || err.reason === "fetch-failed" : false;
      if (!keep || expectedSha256 === null) await rm(part, { force: true });
      throw err;
    }
  }

  private async copyFile(url: URL, part: string, onProgress?: FetchProgress): Promise<void> {
    const path = fileURLToPath(url);
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new CreativeRejected("not-found", `${path} is not a regular file`);
      size = info.size;
    } catch (err) {
      if (err instanceof CreativeRejected) throw err;
      throw new CreativeRejected("not-found", `${path}: ${errorLine(err)}`);
    }
    if (size > this.deps.maxBytes) {
      throw new CreativeRejected("too-large", `${size} bytes, over the ${this.deps.maxBytes}-byte limit (creatives.maxBytes)`);
    }
    await pipeline(createReadStream(path), byteCounter(0, this.deps.maxBytes, size, onProgress), createWriteStream(part));
  }

  private async download(url: string, part: string, deadline: AbortSignal, onProgress?: FetchProgress): Promise<void> {
    const attempts = this.deps.attempts ?? 5;
    const backoff = this.deps.backoffMs ?? defaultBackoffMs;
    let lastProblem = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        try {
          await sleep(backoff(attempt - 1), deadline);
        } catch {
          break;
        }
      }
      try {
        await this.attempt(url, part, deadline, onProgress);
        return;
      } catch (err) {
        if (err instanceof CreativeRejected) throw err;
        if (deadline.aborted) break;
        lastProblem = fetchProblem(err);
        this.deps.log.warn({ url, attempt, problem: lastProblem }, "creative download attempt failed; will retry");
      }
    }
    if (deadline.aborted) {
      throw new CreativeRejected("timeout", `not complete within ${this.deps.timeoutMs / 1000} s (creatives.fetchTimeoutS)`);
    }
    throw new CreativeRejected("fetch-failed", `${lastProblem} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
  }

  private async attempt(url: string, part: string, deadline: AbortSignal, onProgress?: FetchProgress): Promise<void> {
    const fetchImpl = this.deps.fetchImpl ?? fetch;
    const stall = new AbortController();
    const stallMs = this.deps.stallMs ?? 30_000;
    let stallTimer = setTimeout(() => stall.abort(new Error(`nothing received for ${stallMs} ms`)), stallMs);
    const resetStall = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stall.abort(new Error(`nothing received for ${stallMs} ms`)), stallMs);
    };
    try {
      const have = await sizeOf(part);
      const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
      const res = await fetchImpl(url, { headers, signal: AbortSignal.any([deadline, stall.signal]), redirect: "follow" });
      if (res.status === 416 && have > 0) {
        // The part may already hold every byte; the hash check decides.
        await res.body?.cancel();
        return;
      }
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        throw new CreativeRejected("not-found", `HTTP ${res.status} from ${new URL(url).host}`);
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        await res.body?.cancel();
        throw new CreativeRejected("fetch-failed", `HTTP ${res.status} ${res.statusText} from ${new URL(url).host}`);
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw new TransientFetchError(`HTTP ${res.status} ${res.statusText}`);
      }
      // A 206 must continue exactly where the part ends; anything else starts over.
      const resumes = res.status === 206 && (res.headers.get("content-range") ?? "").startsWith(`bytes ${have}-`);
      if (res.status === 206 && !resumes) {
        await res.body?.cancel();
        await rm(part, { force: true });
        throw new TransientFetchError(`the server answered the range request with ${res.headers.get("content-range")}`);
      }
      const offset = resumes ? have : 0;
      const length = Number(res.headers.get("content-length") ?? NaN);
      const total = Number.isFinite(length) ? offset + length : null;
      if (total !== null && total > this.deps.maxBytes) {
        await res.body?.cancel();
        throw new CreativeRejected("too-large", `${total} bytes, over the ${this.deps.maxBytes}-byte limit (creatives.maxBytes)`);
      }
      if (!res.body) throw new TransientFetchError("a response with no body");
      const counter = byteCounter(offset, this.deps.maxBytes, total, (received, all) => {
        resetStall();
        onProgress?.(received, all);
      });
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), counter, createWriteStream(part, { flags: resumes ? "a" : "w" }));
      const got = await sizeOf(part);
      if (total !== null && got < total) throw new TransientFetchError(`the connection closed at ${got} of ${total} bytes`);
    } finally {
      clearTimeout(stallTimer);
    }
  }
}
