// A full disk: reads (export, spot check, signing a head) still work, and a write says the disk is
// full rather than "disk I/O error". The real case needs a small file system that can be filled:
// a tmpfs, mounted when this process may mount one (else that part is skipped, saying why).
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { exportJsonl, fixedClock, LedgerError, openLedger, openLedgerReader } from "../../agent/proofs/index.js";
import { diskFullReason } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

describe("disk full: which failures are the full disk", () => {
  const empty = (): number => 0;
  const roomy = (): number => 1024 ** 3;
  it("SQLITE_FULL and ENOSPC always are; SQLite's bare I/O errors are when the file system has no room", () => {
    expect(diskFullReason({ code: "SQLITE_FULL" }, "/x/db", roomy)).toBe("the disk is full");
    expect(diskFullReason({ code: "ENOSPC" }, "/x/db", roomy)).toBe("the disk is full");
    expect(diskFullReason({ code: "SQLITE_IOERR_SHMSIZE" }, "/x/db", empty)).toBe("the disk is full");
    expect(diskFullReason({ code: "SQLITE_IOERR_WRITE" }, "/x/db", empty)).toBe("the disk is full");
    expect(diskFullReason({ code: "SQLITE_IOERR_WRITE" }, "/x/db", roomy)).toBeNull();
    expect(diskFullReason({ code: "SQLITE_BUSY" }, "/x/db", empty)).toBeNull();
  });
});

function tryMountTmpfs(dir: string, size: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (err) {
    return (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
  }
}

const tmp = tempDir();
const mnt = join(tmp.dir, "small");
mkdirSync(mnt);
const mountFailure = tryMountTmpfs(mnt, "4m");
if (mountFailure) console.warn(`disk-full test skipped: cannot mount a small tmpfs here (${mountFailure})`);

describe.skipIf(mountFailure !== null)("disk full: a genuinely full file system (tmpfs)", () => {
  const config = { dataDir: join(mnt, "data"), runDir: join(mnt, "run"), screenId: "sz-full-001" };
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));

  beforeAll(() => {
    createKeyFiles(join(config.dataDir, "keys", "device.key"), join(config.dataDir, "keys", "device.pub.pem"));
    const { ledger, close } = openLedger(config, { clock });
    for (let i = 0; i < 20; i++) ledger.event("technician.note", { text: `before the disk filled ${i}` });
    close();
    try {
      writeFileSync(join(mnt, "filler"), Buffer.alloc(8 * 1024 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
  });
  afterAll(() => {
    execFileSync("umount", [mnt]);
    tmp.cleanup();
  });

  it("export and spot checks still read the ledger", async () => {
    const { reader, close } = openLedgerReader(config);
    try {
      let text = "";
      const out = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
      expect((await exportJsonl(reader, {}, out)).entries).toBe(20);
      expect(text.split("\n").filter(Boolean)).toHaveLength(20);
      expect(reader.onScreenAt("2026-12-02T00:00:00.000Z")?.seq).toBe(20);
    } finally {
      close();
    }
  });

  it("a head is still signed, and an append fails saying the disk is full, losing nothing", () => {
    const { ledger, close } = openLedger(config, { clock });
    try {
      expect(ledger.checkpoint().seq).toBe(20);
      let failure: unknown;
      try {
        for (let i = 0; i < 50; i++) ledger.event("technician.note", { text: "x".repeat(4000) });
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(LedgerError);
      expect((failure as LedgerError).code).toBe("disk-full");
      expect((failure as Error).message).toMatch(/^ledger append failed: the disk is full/);
      expect(ledger.head()?.seq).toBeGreaterThanOrEqual(20);
    } finally {
      close();
    }
    rmSync(join(mnt, "filler"));
  });
});
