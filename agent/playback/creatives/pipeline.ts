// The creatives pipeline: fetch → verify → inspect → fit → cache. What comes out is the exact
// bytes the schedule names, decodable, fitted to this panel, with the rendition's own SHA-256
// for the proof of play. Every refusal is a CreativeRejected with its reason.
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { Db } from "../../store/index.js";
import { CreativeCache, profileKey, type EvictionResult } from "./cache.js";
import { AGENT_FAULTS, CreativeRejected, errorLine } from "./errors.js";
import { CreativeFetcher } from "./fetch.js";
import { sha256OfFile } from "./files.js";
import { RENDITION_RECIPE, renditionPlan } from "./fit.js";
import { SourceLocks } from "./lock.js";
import { renderPattern, type PatternName } from "./patterns.js";
import { checkAspect, checkDuration, checkSourceSize, probeMedia } from "./probe.js";
import type { MediaTools } from "./tools.js";
import { Transcoder } from "./transcode.js";
import type { CreativeEntry, MediaInfo, PreparedCreative, PrepareProgress, Rendition, RenditionProfile } from "./types.js";

export interface PipelineDeps {
  config: Pick<Config, "panel" | "creatives">;
  db: Db;
  /** agentPaths(config).creativesDir */
  creativesDir: string;
  tools: MediaTools;
  log: Logger;
  /** x264 preset; "medium" unless a test or bench wants speed over size. */
  preset?: string;
  niceness?: number;
  fetch?: { attempts?: number; stallMs?: number; backoffMs?: (retry: number) => number; fetchImpl?: typeof fetch };
  now?: () => Date;
}

/** What a technician hands to `creatives prepare`: the hash and length may be unknown. */
export interface CreativeRequest {
  id: string;
  url: string;
  sha256: string | null;
  /** The schedule's length; null skips the duration check (the video's own length plays). */
  durationMs: number | null;
}

export type PrepareOutcome = { id: string; ok: true; creative: PreparedCreative } | { id: string; ok: false; reason: CreativeRejected["reason"]; message: string };

export type ProgressListener = (progress: PrepareProgress) => void;

function fetchPercent(onProgress?: ProgressListener): (got: number, total: number | null) => void {
  return (got, total) => onProgress?.({ stage: "fetch", percent: total ? (got * 100) / total : null });
}

export class CreativePipeline {
  readonly cache: CreativeCache;
  readonly profile: RenditionProfile;
  private readonly fetcher: CreativeFetcher;
  private readonly transcoder: Transcoder;
  private readonly locks: SourceLocks;
  private readonly inFlight = new Map<string, Promise<PreparedCreative>>();

  constructor(private readonly deps: PipelineDeps) {
    const { panel, creatives } = deps.config;
    this.profile = { width: panel.width, height: panel.height, fps: panel.fps, fit: panel.fit, background: panel.background.toLowerCase(), audio: creatives.audio, preset: deps.preset ?? "medium", recipe: RENDITION_RECIPE };
    this.cache = new CreativeCache({ db: deps.db, dir: deps.creativesDir, now: deps.now });
    this.fetcher = new CreativeFetcher({
      stagingDir: this.cache.stagingDir,
      maxBytes: creatives.maxBytes,
      timeoutMs: creatives.fetchTimeoutS * 1000,
      minRateBytesPerS: creatives.minRateBytesPerS,
      minRateWindowMs: creatives.minRateWindowS * 1000,
      log: deps.log,
      ...deps.fetch,
    });
    this.locks = new SourceLocks({ stagingDir: this.cache.stagingDir });
    this.transcoder = new Transcoder({ ffmpegPath: deps.tools.ffmpeg.path, ffprobePath: deps.tools.ffprobe.path, log: deps.log, niceness: deps.niceness });
  }

  /**
   * Prepares every approved creative the schedule lists (and only those), one result each.
   * Unapproved creatives are never fetched: they can never air.
   */
  async prepareSchedule(creatives: readonly CreativeEntry[], onProgress?: (id: string, p: PrepareProgress) => void): Promise<PrepareOutcome[]> {
    const outcomes: PrepareOutcome[] = [];
    for (const entry of creatives) {
      if (entry.approved !== true) {
        outcomes.push({ id: entry.id, ok: false, reason: "not-approved", message: "not approved for air (approved is not true); not fetched" });
        continue;
      }
      outcomes.push(await this.settle(entry.id, this.prepare(entry, (p) => onProgress?.(entry.id, p))));
    }
    return outcomes;
  }

  private async settle(id: string, work: Promise<PreparedCreative>): Promise<PrepareOutcome> {
    try {
      return { id, ok: true, creative: await work };
    } catch (err) {
      const rejected = err instanceof CreativeRejected ? err : new CreativeRejected("io-error", errorLine(err));
      if (AGENT_FAULTS.has(rejected.reason)) this.deps.log.error({ creative: id, reason: rejected.reason, detail: rejected.message }, "creative not prepared: the agent's own fault, not the creative's");
      else this.deps.log.warn({ creative: id, reason: rejected.reason, detail: rejected.message }, "creative refused");
      return { id, ok: false, reason: rejected.reason, message: rejected.message };
    }
  }

  /** Prepares one creative; concurrent calls for the same bytes share one fetch and one fit. */
  prepare(asked: CreativeRequest, onProgress?: ProgressListener): Promise<PreparedCreative> {
    const request = { ...asked, sha256: asked.sha256?.toLowerCase() ?? null };
    const key = request.sha256 === null ? `url:${request.url}` : request.sha256;
    const running = this.inFlight.get(key);
    if (running) return running.then((c) => this.forRequest(c, request));
    const work = this.prepareNow(request, onProgress).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
    return work;
  }

  /** Renders a test pattern at this panel's exact size (queued like any transcode). */
  renderPattern(name: PatternName): Promise<string> {
    return renderPattern({ transcoder: this.transcoder, dir: join(this.deps.creativesDir, "patterns") }, name, this.profile.width, this.profile.height);
  }

  /** Drops what the schedule no longer references (see CreativeCache.evict). */
  async evict(keepSha256: Iterable<string>): Promise<EvictionResult> {
    await Promise.allSettled([...this.inFlight.values()]);
    return this.cache.evict(new Set(keepSha256), this.profile);
  }

  private forRequest(c: PreparedCreative, request: CreativeRequest): PreparedCreative {
    checkDuration(c.source, request.durationMs, this.deps.config.creatives.durationToleranceMs);
    return { ...c, id: request.id, playMs: c.rendition.durationMs ?? request.durationMs ?? c.playMs };
  }

  private async prepareNow(request: CreativeRequest, onProgress?: ProgressListener): Promise<PreparedCreative> {
    const { durationToleranceMs: tolerance, maxSourcePixels, maxSourcePixelRate } = this.deps.config.creatives;
    let sha256 = request.sha256;
    let source = sha256 === null ? null : this.cache.source(sha256);
    // Verified bytes kept from an attempt whose tools failed are probed again, not fetched again.
    const held = source === null && sha256 !== null && (await this.cache.holdsSourceBytes(sha256));
    if (source === null && !held) {
      sha256 = sha256 === null ? await this.fetchUnverified(request.url, onProgress) : await this.fetchUnderLock(request.url, sha256, onProgress);
      source = this.cache.source(sha256);
    }
    if (sha256 === null) throw new Error("unreachable: a fetched creative always has a hash");
    if (source === null) {
      onProgress?.({ stage: "probe", percent: null });
      const path = this.cache.sourcePath(sha256);
      // Bytes that cannot air are not kept (a length mismatch is the schedule's to fix: kept);
      // neither are they dropped when the fault is the agent's (a broken ffprobe, the disk).
      source = await probeMedia({ ffprobePath: this.deps.tools.ffprobe.path }, path).catch(async (err: unknown) => {
        if (err instanceof CreativeRejected && !AGENT_FAULTS.has(err.reason)) await rm(path, { force: true });
        throw err;
      });
      this.cache.recordSource(sha256, source);
    }
    // Cheap checks on the probe's answer, before anything costly is queued. An oversized source
    // is kept, like one of the wrong length: a raised limit needs no new download.
    checkSourceSize(source, { maxPixels: maxSourcePixels, maxPixelRate: maxSourcePixelRate });
    checkAspect(source);
    checkDuration(source, request.durationMs, tolerance);
    let rendition = await this.cache.rendition(sha256, this.profile);
    const cached = rendition !== null;
    if (!rendition) rendition = await this.fit(sha256, source, onProgress);
    return {
      id: request.id,
      sourceSha256: sha256,
      sourcePath: this.cache.sourcePath(sha256),
      source,
      rendition,
      playMs: rendition.durationMs ?? request.durationMs ?? 10_000,
      cached,
    };
  }

  /**
   * Fetches bytes the schedule names by hash into sources/, one fetcher per hash across
   * processes: the lock is held from the part's first byte until the verified file is in
   * sources/. A fetcher that waited finds the holder's verified file (no download), or
   * fetches itself when the holder failed.
   */
  private async fetchUnderLock(url: string, sha256: string, onProgress?: ProgressListener): Promise<string> {
    const { fetchTimeoutS } = this.deps.config.creatives;
    const lost = new AbortController();
    const release = await this.locks.acquire(sha256, AbortSignal.timeout(fetchTimeoutS * 1000), fetchTimeoutS, (err) => {
      // Not a refusal: the part may be another holder's now, and must not be removed for it.
      lost.abort(new Error(`lost the lock on fetching ${sha256}: ${err.message}`));
    });
    try {
      if (await this.cache.holdsSourceBytes(sha256)) return sha256;
      onProgress?.({ stage: "fetch", percent: 0 });
      const staged = await this.fetcher.fetch(url, sha256, fetchPercent(onProgress), lost.signal);
      this.cache.adoptSourceFile(staged);
      return sha256;
    } finally {
      await release();
    }
  }

  /** A technician's file with no hash given: its own hash names it (a unique part, no lock needed to fetch). */
  private async fetchUnverified(url: string, onProgress?: ProgressListener): Promise<string> {
    onProgress?.({ stage: "fetch", percent: 0 });
    const staged = await this.fetcher.fetch(url, null, fetchPercent(onProgress));
    if (this.cache.source(staged.sha256)) await rm(staged.path, { force: true });
    else this.cache.adoptSourceFile(staged);
    return staged.sha256;
  }

  private async fit(sourceSha256: string, source: MediaInfo, onProgress?: ProgressListener): Promise<Rendition> {
    const plan = renditionPlan(source, this.profile);
    const scratch = this.cache.scratchPath(plan.extension);
    try {
      onProgress?.({ stage: "fit", percent: 0 });
      // No listener, no progress parsing (fluent-ffmpeg runs an extra ffprobe for it).
      const onPercent = onProgress ? (percent: number) => onProgress({ stage: "fit", percent }) : undefined;
      await this.transcoder.run(plan, this.cache.sourcePath(sourceSha256), scratch, source.durationMs, onPercent);
      const out = await probeMedia({ ffprobePath: this.deps.tools.ffprobe.path }, scratch).catch((err: unknown) => {
        if (err instanceof CreativeRejected && AGENT_FAULTS.has(err.reason)) throw err;
        throw new CreativeRejected("rendition-mismatch", `the fitted file cannot be read back (${errorLine(err)})`);
      });
      this.checkRendition(source, out);
      const rendition = { kind: source.kind, sha256: await sha256OfFile(scratch), bytes: (await stat(scratch)).size, width: out.width, height: out.height, durationMs: out.durationMs };
      this.deps.log.info({ source: sourceSha256, profile: profileKey(this.profile), rendition: rendition.sha256 }, "creative fitted to the panel");
      return this.cache.adoptRendition(scratch, sourceSha256, this.profile, plan.extension, rendition);
    } catch (err) {
      this.cache.discardScratch(scratch);
      if (err instanceof CreativeRejected && err.reason === "undecodable") this.cache.forgetSource(sourceSha256);
      throw err;
    }
  }

  /** The fitted file must be exactly the panel, and a video must have decoded to its end. */
  private checkRendition(source: MediaInfo, out: MediaInfo): void {
    const { width, height } = this.profile;
    if (out.width !== width || out.height !== height) {
      throw new CreativeRejected("rendition-mismatch", `ffmpeg made ${out.width}×${out.height}, the panel is ${width}×${height}`);
    }
    if (source.kind === "video" && source.durationMs !== null && out.durationMs !== null) {
      // Frame-rate conversion may round by a frame; a shortfall beyond that is a broken source.
      const slack = this.deps.config.creatives.durationToleranceMs + 2000 / this.profile.fps;
      if (source.durationMs - out.durationMs > slack) {
        throw new CreativeRejected("undecodable", `only ${out.durationMs} of its ${source.durationMs} ms decoded (truncated or damaged)`);
      }
    }
  }
}
