// The creatives cache on disk: verified sources and their renditions, indexed in SQLite
// (migration part "creatives"). File names come from hashes only — a source is named by its
// SHA-256, a rendition by its source's SHA-256 and its profile key — never by URLs or ids.
// Only regular files count: a name holding a link or anything else is dropped, never trusted.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { canonicalSha256 } from "../../crypto/index.js";
import { migrate, type Db, type Migration } from "../../store/index.js";
import { CreativeRejected } from "./errors.js";
import type { StagedFile } from "./fetch.js";
import { cacheEntry, isSameFile, removeName, sha256OfFile } from "./files.js";
import type { MediaInfo, MediaKind, Rendition, RenditionProfile } from "./types.js";

export const CREATIVES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "creative sources and renditions",
    sql: `
      CREATE TABLE creative_sources (
        sha256 TEXT PRIMARY KEY, bytes INTEGER NOT NULL, info TEXT NOT NULL, added_at TEXT NOT NULL);
      CREATE TABLE creative_renditions (
        source_sha256 TEXT NOT NULL REFERENCES creative_sources(sha256) ON DELETE CASCADE,
        profile_key TEXT NOT NULL, profile TEXT NOT NULL, sha256 TEXT NOT NULL, file TEXT NOT NULL,
        kind TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, duration_ms INTEGER,
        bytes INTEGER NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (source_sha256, profile_key));`,
  },
];

/** Short, stable name of everything that shapes a rendition. */
export function profileKey(profile: RenditionProfile): string {
  return canonicalSha256(profile).slice(0, 16);
}

export interface CacheDeps {
  db: Db;
  /** agentPaths(config).creativesDir */
  dir: string;
  now?: () => Date;
  /**
   * Staging files not wanted are removed only once this old (by mtime): younger ones may belong
   * to another process at work (`creatives prepare` by hand beside the daemon). Default 2 h:
   * longer than a transcode may run (1 h), while a live download touches its part every window.
   */
  staleAfterMs?: number;
}

const DEFAULT_STALE_AFTER_MS = 2 * 60 * 60 * 1000;

interface RenditionRow {
  sha256: string;
  file: string;
  kind: MediaKind;
  width: number;
  height: number;
  duration_ms: number | null;
  bytes: number;
}

export interface EvictionResult {
  removedFiles: number;
  freedBytes: number;
}

/** Size of the regular file at `path`; null when absent or when the name holds anything else. */
function fileSize(path: string): number | null {
  const entry = cacheEntry(path);
  return entry.kind === "file" ? entry.size : null;
}

/**
 * Removes a name that holds a link or anything but a regular file (the name only: a link's
 * target is never touched, a directory is removed only when empty); true when it held one.
 */
function dropForeign(path: string): boolean {
  if (cacheEntry(path).kind !== "foreign") return false;
  removeName(path);
  return true;
}

// The names the cache gives its files. Eviction removes nothing else: whatever another hand put
// in these directories is left where it is.
const SOURCE_NAME = /^[0-9a-f]{64}$/;
const RENDITION_NAME = /^[0-9a-f]{64}-[0-9a-f]{16}\.(mp4|png)$/;
const PART_NAME = /^(?:[0-9a-f]{64}|unverified-[\w-]+)\.part$/;
const LOCK_NAME = /^[0-9a-f]{64}\.lock$/;
const SCRATCH_NAME = /^render-[\w.-]+$/;

/**
 * Checks that `dir` is a real directory (made when absent). A symbolic link is refused: the
 * cache removes files in its directories, and through a link they would be someone else's
 * (a technician's `ln -s /mnt/big creatives/sources` would hand eviction that whole disk).
 */
function ownDirectory(dir: string): void {
  let info;
  try {
    info = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    mkdirSync(dir, { recursive: true });
    return;
  }
  if (info.isDirectory()) return;
  const what = info.isSymbolicLink() ? "a symbolic link" : "not a directory";
  throw new CreativeRejected(
    "io-error",
    `${dir} is ${what}, not a directory: the cache removes files in it and does not follow links out of its own directories (to move the cache to another disk, link the creatives directory itself)`,
  );
}

/** Removes a scratch directory the cache made: the files in it, then the directory; never recursively beyond. */
function removeScratchDir(dir: string): void {
  if (cacheEntry(dir).kind !== "foreign") {
    removeName(dir);
    return;
  }
  for (const name of readdirSync(dir)) removeName(join(dir, name));
  removeName(dir);
}

export class CreativeCache {
  readonly sourcesDir: string;
  readonly renditionsDir: string;
  readonly stagingDir: string;
  private readonly now: () => Date;

  constructor(private readonly deps: CacheDeps) {
    migrate(deps.db, "creatives", CREATIVES_MIGRATIONS);
    this.sourcesDir = join(deps.dir, "sources");
    this.renditionsDir = join(deps.dir, "renditions");
    this.stagingDir = join(deps.dir, "staging");
    this.checkLayout();
    this.now = deps.now ?? (() => new Date());
  }

  /** Refuses (io-error) when sources/, renditions/ or staging/ is a link or not a directory. */
  checkLayout(): void {
    for (const d of [this.sourcesDir, this.renditionsDir, this.stagingDir]) ownDirectory(d);
  }

  sourcePath(sha256: string): string {
    return join(this.sourcesDir, sha256);
  }

  /** The stored source's probe, when its bytes are on disk (a regular file) and were inspected before. */
  source(sha256: string): MediaInfo | null {
    if (dropForeign(this.sourcePath(sha256))) this.deps.db.prepare("DELETE FROM creative_sources WHERE sha256 = ?").run(sha256);
    const row = this.deps.db.prepare("SELECT info, bytes FROM creative_sources WHERE sha256 = ?").get(sha256) as { info: string; bytes: number } | undefined;
    if (!row || fileSize(this.sourcePath(sha256)) !== row.bytes) return null;
    return JSON.parse(row.info) as MediaInfo;
  }

  /**
   * True when sources/<sha256> holds exactly those bytes though it was never probed (an attempt
   * whose ffprobe failed keeps them): they need no new download.
   */
  async holdsSourceBytes(sha256: string): Promise<boolean> {
    const path = this.sourcePath(sha256);
    if (dropForeign(path) || fileSize(path) === null) return false;
    try {
      return (await sha256OfFile(path)) === sha256;
    } catch {
      return false;
    }
  }

  /**
   * Moves verified staging bytes into place (same file system: an atomic rename), and checks
   * that what arrived is the very file that was hashed: a name can be replaced between a hash
   * and a rename, and nothing but the hashed file may sit under a verified name.
   */
  adoptSourceFile(staged: StagedFile): string {
    const target = this.sourcePath(staged.sha256);
    renameSync(staged.path, target);
    if (!isSameFile(target, staged.identity)) {
      rmSync(target, { force: true });
      throw new CreativeRejected("io-error", `${staged.path} was replaced after its bytes were verified; not adopted (another process at work?)`);
    }
    return target;
  }

  recordSource(sha256: string, info: MediaInfo): void {
    const bytes = fileSize(this.sourcePath(sha256));
    if (bytes === null) throw new Error(`${this.sourcePath(sha256)} is not a regular file`);
    this.deps.db
      .prepare("INSERT INTO creative_sources (sha256, bytes, info, added_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET bytes = excluded.bytes, info = excluded.info")
      .run(sha256, bytes, JSON.stringify(info), this.now().toISOString());
  }

  /** Drops a source that turned out not to decode, so it is not fitted again and again. */
  forgetSource(sha256: string): void {
    this.deps.db.prepare("DELETE FROM creative_sources WHERE sha256 = ?").run(sha256);
    rmSync(this.sourcePath(sha256), { force: true });
  }

  /**
   * A path for ffmpeg to write to before the result is adopted, inside a directory made for it
   * alone (mkdtemp: new, private): ffmpeg opens its output by name and would follow a link, so
   * the name must be one nobody else could have planted. Remove it with discardScratch.
   */
  scratchPath(extension: string): string {
    const dir = mkdtempSync(join(this.stagingDir, "render-"));
    return join(dir, `out.${extension}`);
  }

  /** Removes a scratch path and its private directory. */
  discardScratch(scratch: string): void {
    removeScratchDir(join(scratch, ".."));
  }

  renditionPath(sourceSha256: string, profile: RenditionProfile, extension: string): string {
    return join(this.renditionsDir, `${sourceSha256}-${profileKey(profile)}.${extension}`);
  }

  /**
   * The cached rendition, re-hashed so that what the proof names is what is on disk;
   * a file gone or changed drops the entry (it is fitted again).
   */
  async rendition(sourceSha256: string, profile: RenditionProfile): Promise<Rendition | null> {
    const key = profileKey(profile);
    const row = this.deps.db
      .prepare("SELECT sha256, file, kind, width, height, duration_ms, bytes FROM creative_renditions WHERE source_sha256 = ? AND profile_key = ?")
      .get(sourceSha256, key) as RenditionRow | undefined;
    if (!row) return null;
    const path = join(this.renditionsDir, row.file);
    const intact = !dropForeign(path) && fileSize(path) === row.bytes && (await sha256OfFile(path).catch(() => null)) === row.sha256;
    if (!intact) {
      this.deps.db.prepare("DELETE FROM creative_renditions WHERE source_sha256 = ? AND profile_key = ?").run(sourceSha256, key);
      rmSync(path, { force: true });
      return null;
    }
    return { kind: row.kind, path, sha256: row.sha256, bytes: row.bytes, width: row.width, height: row.height, durationMs: row.duration_ms };
  }

  /** Moves a checked rendition into place and indexes it. */
  adoptRendition(scratch: string, sourceSha256: string, profile: RenditionProfile, extension: string, rendition: Omit<Rendition, "path">): Rendition {
    const path = this.renditionPath(sourceSha256, profile, extension);
    renameSync(scratch, path);
    this.discardScratch(scratch);
    this.deps.db
      .prepare(
        `INSERT INTO creative_renditions (source_sha256, profile_key, profile, sha256, file, kind, width, height, duration_ms, bytes, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(source_sha256, profile_key) DO UPDATE SET sha256 = excluded.sha256, file = excluded.file, kind = excluded.kind,
           width = excluded.width, height = excluded.height, duration_ms = excluded.duration_ms, bytes = excluded.bytes, created_at = excluded.created_at`,
      )
      .run(sourceSha256, profileKey(profile), JSON.stringify(profile), rendition.sha256, `${sourceSha256}-${profileKey(profile)}.${extension}`, rendition.kind, rendition.width, rendition.height, rendition.durationMs, rendition.bytes, this.now().toISOString());
    return { ...rendition, path };
  }

  /**
   * Frees everything the current schedule does not reference: sources not in `keep`,
   * renditions of other sources or of another panel profile, stray staging and scratch files.
   * A partial download of a kept creative stays, so it can resume.
   */
  evict(keep: ReadonlySet<string>, current: RenditionProfile): EvictionResult {
    // A directory swapped for a link since the cache opened would hand eviction its target.
    this.checkLayout();
    const db = this.deps.db;
    const currentKey = profileKey(current);
    const keptRenditions = new Set<string>();
    const rows = db.prepare("SELECT source_sha256, profile_key, file FROM creative_renditions").all() as { source_sha256: string; profile_key: string; file: string }[];
    const drop = db.prepare("DELETE FROM creative_renditions WHERE source_sha256 = ? AND profile_key = ?");
    const dropSource = db.prepare("DELETE FROM creative_sources WHERE sha256 = ?");
    db.transaction(() => {
      for (const r of rows) {
        if (keep.has(r.source_sha256) && r.profile_key === currentKey) keptRenditions.add(r.file);
        else drop.run(r.source_sha256, r.profile_key);
      }
      const sources = db.prepare("SELECT sha256 FROM creative_sources").all() as { sha256: string }[];
      for (const s of sources) if (!keep.has(s.sha256)) dropSource.run(s.sha256);
    })();
    const result: EvictionResult = { removedFiles: 0, freedBytes: 0 };
    // Names only, never recursively: a directory goes only when empty, except the scratch
    // directories of killed encodes in staging (their files, then the directory).
    const remove = (path: string): void => {
      const bytes = fileSize(path) ?? 0;
      const scratch = path.startsWith(this.stagingDir) && SCRATCH_NAME.test(basename(path));
      if (scratch) removeScratchDir(path);
      else if (!removeName(path)) return;
      result.freedBytes += bytes;
      result.removedFiles++;
    };
    const unusable = (path: string): boolean => cacheEntry(path).kind === "foreign";
    for (const name of readdirSync(this.sourcesDir)) {
      if (SOURCE_NAME.test(name) && (!keep.has(name) || unusable(join(this.sourcesDir, name)))) remove(join(this.sourcesDir, name));
    }
    for (const name of readdirSync(this.renditionsDir)) {
      if (RENDITION_NAME.test(name) && (!keptRenditions.has(name) || unusable(join(this.renditionsDir, name)))) remove(join(this.renditionsDir, name));
    }
    for (const name of readdirSync(this.stagingDir)) {
      const verdict = this.stagingVerdict(name, keep);
      if (verdict === "remove" || (verdict === "remove-when-stale" && this.isStale(join(this.stagingDir, name)))) remove(join(this.stagingDir, name));
    }
    return result;
  }

  /**
   * What eviction does with a staging entry: a part of a creative still wanted is kept (one per
   * source, named by its hash, so the next fetch resumes it); one that is not a regular file, or
   * whose source is already whole, is removed at once; anything else goes once stale.
   */
  private stagingVerdict(name: string, keep: ReadonlySet<string>): "keep" | "remove" | "remove-when-stale" {
    if (!PART_NAME.test(name) && !LOCK_NAME.test(name) && !SCRATCH_NAME.test(name)) return "keep";
    const sha256 = name.endsWith(".part") ? name.slice(0, -".part".length) : null;
    if (sha256 === null || !keep.has(sha256)) return "remove-when-stale";
    if (cacheEntry(join(this.stagingDir, name)).kind !== "file") return "remove";
    return fileSize(this.sourcePath(sha256)) === null ? "keep" : "remove";
  }

  /** Untouched for staleAfterMs: a scratch directory counts as touched when anything in it was. */
  private isStale(path: string): boolean {
    const entry = cacheEntry(path);
    let newest = entry.kind === "absent" ? 0 : entry.mtimeMs;
    if (entry.kind === "foreign" && entry.isDirectory) {
      for (const name of readdirSync(path)) {
        const inner = cacheEntry(join(path, name));
        if (inner.kind !== "absent") newest = Math.max(newest, inner.mtimeMs);
      }
    }
    return this.now().getTime() - newest >= (this.deps.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
  }
}
