// The HTTP side of a download: redirects followed by hand (so that where they lead is checked
// before anything is requested there), the size a response announces, and the watch that cuts
// a server dripping bytes too slowly to ever finish.
import { CreativeRejected } from "./errors.js";

/** Enough for any CDN's chain (typically one or two hops); more is a misconfiguration or a trap. */
export const MAX_REDIRECTS = 10;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface Answer {
  res: Response;
  /** Where the answer came from, after redirects. */
  url: string;
}

function hostOf(url: string): string {
  return new URL(url).host;
}

/** Where a redirect leads, or a permanent refusal: no Location, not a URL, not http(s), a loop, too many. */
function redirectTarget(res: Response, from: string, seen: ReadonlySet<string>, hops: number): string {
  const location = res.headers.get("location");
  if (location === null) throw new CreativeRejected("bad-redirect", `HTTP ${res.status} from ${hostOf(from)} names no Location`);
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new CreativeRejected("bad-redirect", `${hostOf(from)} redirects to ${JSON.stringify(location.slice(0, 200))}, which is not a URL`);
  }
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    throw new CreativeRejected("bad-redirect", `${hostOf(from)} redirects to a ${next.protocol} URL (only http: and https: redirects are followed)`);
  }
  if (seen.has(next.href)) throw new CreativeRejected("bad-redirect", `redirect loop: back to ${next.href} after ${hops} redirect${hops === 1 ? "" : "s"}`);
  if (hops > MAX_REDIRECTS) throw new CreativeRejected("bad-redirect", `more than ${MAX_REDIRECTS} redirects (last from ${hostOf(from)})`);
  return next.href;
}

/**
 * GETs `url`, following http(s) redirects by hand. A redirect elsewhere (file:, data:, ftp: …),
 * a loop or a chain longer than MAX_REDIRECTS is a permanent `bad-redirect` refusal: asking
 * again would only be answered the same way.
 */
export async function getFollowingRedirects(fetchImpl: typeof fetch, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
  const seen = new Set<string>([new URL(url).href]);
  let current = url;
  for (let hops = 0; ; hops++) {
    const res = await fetchImpl(current, { headers, signal, redirect: "manual" });
    if (!REDIRECTS.has(res.status)) return { res, url: current };
    await res.body?.cancel();
    current = redirectTarget(res, current, seen, hops + 1);
    seen.add(current);
  }
}

/**
 * The whole object's size as the response announces it: the total of a Content-Range
 * (`bytes 100-199/5000` → 5000), else `offset` + Content-Length; null when neither says.
 */
export function announcedTotal(res: Response, offset: number): number | null {
  const range = /\/(\d+)\s*$/.exec(res.headers.get("content-range") ?? "");
  const length = Number(res.headers.get("content-length") ?? NaN);
  const fromLength = Number.isFinite(length) && length >= 0 ? offset + length : null;
  const fromRange = range ? Number(range[1]) : null;
  if (fromRange !== null && fromLength !== null) return Math.max(fromRange, fromLength);
  return fromRange ?? fromLength;
}

export interface RateLimit {
  /** 0 turns the watch off. */
  minBytesPerS: number;
  windowMs: number;
}

/**
 * Counts bytes per window and calls `tooSlow` when a whole window brought fewer than
 * minBytesPerS × window: a server sending a byte a second never times out on silence, yet
 * would hold a fetch (and the creative) for days.
 */
export class RateWatch {
  private inWindow = 0;
  private readonly timer: NodeJS.Timeout | null;

  constructor(limit: RateLimit, tooSlow: (why: Error) => void) {
    if (limit.minBytesPerS <= 0) {
      this.timer = null;
      return;
    }
    const needed = (limit.minBytesPerS * limit.windowMs) / 1000;
    this.timer = setInterval(() => {
      if (this.inWindow < needed) {
        const seconds = limit.windowMs / 1000;
        tooSlow(new Error(`slower than ${limit.minBytesPerS} bytes/s: ${this.inWindow} bytes in ${seconds} s (creatives.minRateBytesPerS over creatives.minRateWindowS)`));
      }
      this.inWindow = 0;
    }, limit.windowMs);
  }

  add(bytes: number): void {
    this.inWindow += bytes;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
