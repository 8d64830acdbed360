// Brings a creative's bytes from its URL into a staging file and verifies their SHA-256.
// Interrupted HTTP downloads resume with a Range request (the staging file is named after
// the expected hash, so a part left by an earlier run resumes too); transient failures
// (connection lost, 5xx, 408/429, a stall, a server slower than the minimum rate) retry with
// exponential backoff; permanent ones (4xx, a redirect off http(s), a loop, an announced size
// over the limit, bytes that do not hash right) fail at once and leave no part behind. Size and
// time limits hold across retries. The part is only ever created anew or appended to as a
// regular file (files.ts): a link planted in staging is removed, never written through.
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../log.js";
import { CreativeRejected, errorLine } from "./errors.js";
import { cacheEntry, createExclusive, hashFile, removeName, openToAppend, openToRead, type FileIdentity } from "./files.js";
import { announcedTotal, getFollowingRedirects, RateWatch } from "./http.js";

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
  /** An attempt bringing fewer bytes than this per second over a whole window is cut (and retried); 0: no minimum. */
  minRateBytesPerS?: number;
  minRateWindowMs?: number;
  backoffMs?: (retry: number) => number;
  fetchImpl?: typeof fetch;
}

export interface StagedFile {
  /** Verified bytes, in the staging directory; the cache moves them into place. */
  path: string;
  sha256: string;
  bytes: number;
  /** The file that was hashed: only this file may be adopted under the hash. */
  identity: FileIdentity;
}

export type FetchProgress = (receivedBytes: number, totalBytes: number | null) => void;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** An attempt failed in a way that another attempt may fix. */
class TransientFetchError extends Error {}

/** Refused for now, with a part worth keeping: the next fetch of the creative resumes from it. */
class ResumableRefusal extends CreativeRejected {}

export function defaultBackoffMs(retry: number): number {
  return Math.min(30_000, 1000 * 2 ** (retry - 1));
}

/** Size of the part on disk (0 when absent); anything but a regular file is removed first. */
async function partSize(part: string, log: Logger): Promise<number> {
  const entry = cacheEntry(part);
  if (entry.kind === "file") return entry.size;
  if (entry.kind === "foreign") {
    log.warn({ part, found: entry.what }, "removing what is not a download under a staging name");
    removeName(part);
  }
  return 0;
}

/** A new, empty part: whatever held the name is removed, and the file is created exclusively. */
async function freshPart(part: string): Promise<FileHandle> {
  removeName(part);
  return createExclusive(part);
}

async function syncFile(path: string): Promise<void> {
  const handle = await openToRead(path);
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


/**
 * Pipes `source` through `counter` into the part, and returns or throws only once the part is
 * closed: a write still in flight when a fetch is stopped would otherwise land after the caller
 * was told the fetch ended, under a resume that already measured the part.
 */
async function pipeInto(sink: FileHandle, source: Readable, counter: Transform): Promise<void> {
  const out = sink.createWriteStream();
  try {
    await pipeline(source, counter, out);
  } finally {
    if (!out.closed) await once(out, "close");
  }
}

export class CreativeFetcher {
  constructor(private readonly deps: FetchDeps) {}

  /**
   * Fetches `url` into staging and checks it hashes to `expectedSha256` (lowercase hex).
   * With no expected hash (a technician's local file) the bytes' own hash is reported.
   * `signal` stops the fetch (the agent shutting down): the part is kept for a resume.
   */
  async fetch(url: string, expectedSha256: string | null, onProgress?: FetchProgress, signal?: AbortSignal): Promise<StagedFile> {
    if (expectedSha256 !== null && !SHA256_HEX.test(expectedSha256)) {
      throw new CreativeRejected("bad-sha256", `${JSON.stringify(expectedSha256)} is not 64 lowercase hex digits`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CreativeRejected("bad-url", `${JSON.stringify(url)} is not a URL`);
    }
    const http = parsed.protocol === "http:" || parsed.protocol === "https:";
    if (!http && parsed.protocol !== "file:") throw new CreativeRejected("bad-url", `${parsed.protocol} URLs are not fetched (only https:, http: and file:)`);
    await mkdir(this.deps.stagingDir, { recursive: true });
    // Named after the expected hash, never the URL: a later run finds the part and resumes.
    const part = join(this.deps.stagingDir, `${expectedSha256 ?? `unverified-${randomUUID()}`}.part`);
    const timeout = AbortSignal.timeout(this.deps.timeoutMs);
    const deadline = signal ? AbortSignal.any([timeout, signal]) : timeout;
    const resumedOldPart = expectedSha256 !== null && (await partSize(part, this.deps.log)) > 0;
    try {
      if (http) await this.download(url, part, deadline, onProgress);
      else await this.copyFile(parsed, part, onProgress);
      let hashed = await hashFile(part);
      if (http && expectedSha256 !== null && hashed.sha256 !== expectedSha256 && resumedOldPart) {
        // A part left by an earlier run may hold bytes of an older object at the same URL.
        this.deps.log.warn({ url }, "resumed download does not verify; fetching it again from the start");
        await rm(part, { force: true });
        await this.download(url, part, deadline, onProgress);
        hashed = await hashFile(part);
      }
      const { sha256, identity } = hashed;
      if (expectedSha256 !== null && sha256 !== expectedSha256) {
        throw new CreativeRejected("hash-mismatch", `the bytes hash to ${sha256}, the schedule says ${expectedSha256}`);
      }
      await syncFile(part);
      return { path: part, sha256, identity, bytes: await partSize(part, this.deps.log) };
    } catch (err) {
      // Only a part that a later fetch can resume is kept: never one refused for what it is.
      const resumable = err instanceof ResumableRefusal || (signal?.aborted === true && !(err instanceof CreativeRejected));
      if (!resumable || expectedSha256 === null) removeName(part);
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
    await pipeInto(await freshPart(part), createReadStream(path), byteCounter(0, this.deps.maxBytes, size, onProgress));
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
      const reason: unknown = deadline.reason;
      // A stop asked for by the caller is not the creative's failure: say so as it was said.
      if (!(reason instanceof DOMException && reason.name === "TimeoutError")) throw reason;
      throw new ResumableRefusal("timeout", `not complete within ${this.deps.timeoutMs / 1000} s (creatives.fetchTimeoutS)`);
    }
    throw new ResumableRefusal("fetch-failed", `${lastProblem} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
  }

  private async attempt(url: string, part: string, deadline: AbortSignal, onProgress?: FetchProgress): Promise<void> {
    const cut = new AbortController();
    const stallMs = this.deps.stallMs ?? 30_000;
    let stallTimer = setTimeout(() => cut.abort(new Error(`nothing received for ${stallMs} ms`)), stallMs);
    const rate = new RateWatch({ minBytesPerS: this.deps.minRateBytesPerS ?? 0, windowMs: this.deps.minRateWindowMs ?? 30_000 }, (why) => cut.abort(why));
    const received = (bytes: number): void => {
      rate.add(bytes);
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => cut.abort(new Error(`nothing received for ${stallMs} ms`)), stallMs);
    };
    try {
      const have = await partSize(part, this.deps.log);
      const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
      const { res, url: from } = await getFollowingRedirects(this.deps.fetchImpl ?? fetch, url, headers, AbortSignal.any([deadline, cut.signal]));
      const offset = await this.checkAnswer(res, from, part, have);
      if (offset === null) return;
      const total = announcedTotal(res, offset);
      if (total !== null && total > this.deps.maxBytes) {
        await res.body?.cancel();
        throw new CreativeRejected("too-large", `${total} bytes announced, over the ${this.deps.maxBytes}-byte limit (creatives.maxBytes)`);
      }
      if (!res.body) throw new TransientFetchError("a response with no body");
      let last = offset;
      const counter = byteCounter(offset, this.deps.maxBytes, total, (got, all) => {
        received(got - last);
        last = got;
        onProgress?.(got, all);
      });
      const sink = offset > 0 ? await openToAppend(part) : await freshPart(part);
      await pipeInto(sink, Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), counter);
      const got = await partSize(part, this.deps.log);
      if (total !== null && got < total) throw new TransientFetchError(`the connection closed at ${got} of ${total} bytes`);
    } finally {
      clearTimeout(stallTimer);
      rate.stop();
    }
  }

  /**
   * Sorts the answer: the offset its body starts at, null when the part is already whole, or a
   * throw (permanent: CreativeRejected; worth another attempt: TransientFetchError).
   */
  private async checkAnswer(res: Response, from: string, part: string, have: number): Promise<number | null> {
    const host = new URL(from).host;
    if (res.status === 416 && have > 0) {
      // The part may already hold every byte; the hash check decides.
      await res.body?.cancel();
      return null;
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new CreativeRejected("not-found", `HTTP ${res.status} from ${host}`);
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      await res.body?.cancel();
      throw new CreativeRejected("fetch-failed", `HTTP ${res.status} ${res.statusText} from ${host} (not retried: the server refuses this request)`);
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
    return resumes ? have : 0;
  }
}
