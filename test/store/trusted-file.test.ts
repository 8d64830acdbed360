// A trusted file (config, ops key, device key) is refused when anyone but root and the agent's
// user could rewrite or replace it: through its owner, or through any directory its path goes
// through, as given or after links are followed. Each refusal is reproduced, then checked word
// for word, because the message is what a technician acts on.
import { chmodSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkTrustedPath, readTrustedText, TrustedFileError } from "../../agent/store/trusted-file.js";
import { tempDir } from "../helpers/tmp.js";

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** A directory under the test's own (0700, ours), with an explicit mode: the umask must not decide. */
function dir(name: string, mode: number): string {
  const path = join(tmp.dir, name);
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  return path;
}

function file(path: string, mode = 0o600): string {
  writeFileSync(path, "screenId: a\n");
  chmodSync(path, mode);
  return path;
}

function readTrusted(path: string): string {
  return readTrustedText(path, { refuseWritableByOthers: true });
}

function refusal(fn: () => unknown): TrustedFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrustedFileError);
    return err as TrustedFileError;
  }
  throw new Error("expected a refusal");
}

describe("trusted files: the directories on the way", () => {
  it("refuses a 0600 file in a 0777 directory: anyone could rename another file over it", () => {
    const open = dir("open", 0o777);
    const path = file(join(open, "config.yaml"));
    const err = refusal(() => readTrusted(path));
    expect(err.message).toBe(
      `${path}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
    );
    expect(err.problem).toBe("unsafe directory");
    chmodSync(open, 0o755);
    expect(readTrusted(path)).toBe("screenId: a\n");
  });

  it("refuses a symbolic link placed in a 0777 directory, though the file it points at is sound", () => {
    const good = file(join(dir("etc", 0o755), "config.yaml"));
    const open = dir("open", 0o777);
    const link = join(open, "config.yaml");
    symlinkSync(good, link);
    expect(readTrusted(good)).toBe("screenId: a\n");
    expect(refusal(() => readTrusted(link)).message).toBe(
      `${link}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
    );
  });

  it("refuses a link from a sound directory to a file in a 0777 one (the real path is checked too)", () => {
    const open = dir("open", 0o777);
    const real = file(join(open, "config.yaml"));
    const link = join(dir("etc", 0o755), "config.yaml");
    symlinkSync(real, link);
    expect(refusal(() => readTrusted(link)).message).toBe(
      `${link}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
    );
  });

  it("follows `..` after a link as the kernel does: from where the link led, not from the link", () => {
    const open = dir("open", 0o777);
    const sub = dir("open/sub", 0o755);
    file(join(open, "config.yaml"));
    symlinkSync(sub, join(dir("etc", 0o755), "sub"));
    const path = `${tmp.dir}/etc/sub/../config.yaml`; // not join(), which would drop `sub/..` by itself
    expect(refusal(() => readTrusted(path)).message).toBe(
      `${path}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
    );
  });

  it("refuses a group-writable ancestor two levels up", () => {
    const shared = dir("shared", 0o775);
    const path = file(join(dir("shared/etc/ledagent", 0o755), "config.yaml"));
    expect(refusal(() => readTrusted(path)).message).toBe(
      `${path}: directory ${shared} is writable by group or others (mode 0775), so they could put another file in its place; fix with \`chmod go-w ${shared}\``,
    );
  });

  it("accepts a sound file under a 1777 sticky directory owned by the agent's user, as under /tmp", () => {
    const sticky = dir("sticky", 0o1777);
    const path = file(join(sticky, "config.yaml"), 0o640);
    expect(readTrusted(path)).toBe("screenId: a\n");
    expect(() => checkTrustedPath(path)).not.toThrow();
  });

  it("leaves untrusted reads alone: a schedule delivered into a 0777 directory is judged by its reader", () => {
    const path = file(join(dir("open", 0o777), "schedule.json"), 0o666);
    expect(readTrustedText(path)).toBe("screenId: a\n");
  });
});

// Giving a file or a directory to another user needs root: as anyone else these cannot be set up.
describe.skipIf(!asRoot)("trusted files: owners (needs root, to give files to uid 65534)", () => {
  const owners = "root (the user the agent runs as)";

  it("refuses a 0640 file owned by nobody: its owner could rewrite it, whatever its mode", () => {
    const path = file(join(tmp.dir, "config.yaml"), 0o640);
    chownSync(path, NOBODY, 0);
    const err = refusal(() => readTrusted(path));
    expect(err.message).toBe(`${path}: is owned by uid 65534, not by ${owners}, so uid 65534 can rewrite it; fix with \`chown root:root ${path}\``);
    expect(err.problem).toBe("owned by others");
    chownSync(path, 0, 0);
    expect(readTrusted(path)).toBe("screenId: a\n");
  });

  it("refuses a 0755 directory owned by nobody on the way", () => {
    const theirs = dir("theirs", 0o755);
    const path = file(join(theirs, "config.yaml"));
    chownSync(theirs, NOBODY, 0);
    expect(refusal(() => readTrusted(path)).message).toBe(
      `${path}: directory ${theirs} is owned by uid 65534, not by ${owners}, so uid 65534 could put another file in its place; fix with \`chown root:root ${theirs}\``,
    );
  });

  it("refuses a symbolic link owned by nobody in a sticky directory: its owner can point it elsewhere", () => {
    const good = file(join(dir("etc", 0o755), "config.yaml"));
    const sticky = dir("sticky", 0o1777);
    const link = join(sticky, "config.yaml");
    symlinkSync(good, link);
    lchownSync(link, NOBODY, 0);
    expect(refusal(() => readTrusted(link)).message).toBe(
      `${link}: ${link} is owned by uid 65534 in the sticky directory ${sticky}, so uid 65534 can replace it; fix with \`chown -h root:root ${link}\``,
    );
  });

  it("refuses a sticky 1777 directory that nobody owns: its owner can rename anything in it", () => {
    const sticky = dir("sticky", 0o1777);
    const path = file(join(sticky, "config.yaml"));
    chownSync(sticky, NOBODY, 0);
    expect(refusal(() => readTrusted(path)).message).toBe(
      `${path}: directory ${sticky} is owned by uid 65534, not by ${owners}, so uid 65534 could put another file in its place; fix with \`chown root:root ${sticky}\``,
    );
  });

  it("checkTrustedPath (for loaders that read the file themselves) refuses the owner and the directories", () => {
    const path = file(join(tmp.dir, "device.key"));
    expect(() => checkTrustedPath(path)).not.toThrow();
    chownSync(path, NOBODY, 0);
    expect(refusal(() => checkTrustedPath(path)).message).toBe(
      `${path}: is owned by uid 65534, not by ${owners}, so uid 65534 can rewrite it; fix with \`chown root:root ${path}\``,
    );
  });
});

describe("checkTrustedPath", () => {
  it("refuses a key file in a 0777 directory and a key others may write", () => {
    const open = dir("open", 0o777);
    const inOpen = file(join(open, "device.key"));
    expect(refusal(() => checkTrustedPath(inOpen)).message).toBe(
      `${inOpen}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
    );
    const loose = file(join(tmp.dir, "loose.key"), 0o666);
    expect(refusal(() => checkTrustedPath(loose)).message).toBe(`${loose}: is writable by group or others (mode 0666); fix with \`chmod go-w ${loose}\``);
  });

  it("reports a missing file with its errno, so a loader can word it itself", () => {
    const missing = join(tmp.dir, "none.key");
    const err = refusal(() => checkTrustedPath(missing));
    expect(err.code).toBe("ENOENT");
    expect(err.message).toBe(`${missing}: no such file or directory (ENOENT)`);
  });
});
