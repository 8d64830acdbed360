// `sudo ledagent …` on an installed box acts as the agent's user: the data directory's owner.
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runAsDataDirOwner, type ProcessIdentity } from "../../agent/run-as.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const AGENT_UID = 65534;
const tmp = tempDir("ledagent-run-as-");
afterAll(() => tmp.cleanup());

function fakeProcess(uid: number): ProcessIdentity & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    getuid: () => uid,
    initgroups: (user, gid) => void calls.push(`initgroups ${user} ${gid}`),
    setgid: (gid) => void calls.push(`setgid ${gid}`),
    setuid: (id) => void calls.push(`setuid ${id}`),
    setgroups: (groups) => void calls.push(`setgroups ${groups.join(",")}`),
  };
}

describe("root becomes the data directory's owner", () => {
  it("switches groups, gid, then uid, only for root and only to a non-root owner", () => {
    const root = fakeProcess(0);
    expect(runAsDataDirOwner("/d", root, () => ({ uid: 999, gid: 998 }))).toEqual({ uid: 999, gid: 998 });
    expect(root.calls).toEqual(["initgroups 999 998", "setgid 998", "setuid 999"]);
    // A uid with no passwd entry: initgroups fails, and root's supplementary groups are dropped all the same.
    const nameless = { ...fakeProcess(0), initgroups: () => { throw new Error("no such user"); } };
    expect(runAsDataDirOwner("/d", nameless, () => ({ uid: 4242, gid: 4242 }))).toEqual({ uid: 4242, gid: 4242 });
    expect(nameless.calls).toEqual(["setgroups 4242", "setgid 4242", "setuid 4242"]);
    const user = fakeProcess(1000);
    expect(runAsDataDirOwner("/d", user, () => ({ uid: 999, gid: 998 }))).toBeNull();
    const rootOwned = fakeProcess(0);
    expect(runAsDataDirOwner("/d", rootOwned, () => ({ uid: 0, gid: 0 }))).toBeNull();
    const missing = fakeProcess(0);
    expect(runAsDataDirOwner("/d", missing, () => { throw new Error("ENOENT"); })).toBeNull();
    expect([...user.calls, ...rootOwned.calls, ...missing.calls]).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)("`ledagent note` as root on the agent's data directory: written as the agent's user, no root-owned file left", async () => {
    chmodSync(tmp.dir, 0o755);
    const config = join(tmp.dir, "config.yaml");
    const dataDir = join(tmp.dir, "data");
    const init = await runCli(["init", "--screen", "sz-run-as-001", "--data-dir", dataDir, "--run-dir", join(tmp.dir, "run"), "--config", config]);
    expect(init.code, init.stderr).toBe(0);
    const chownTree = (dir: string): void => {
      chownSync(dir, AGENT_UID, AGENT_UID);
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) chownTree(join(dir, e.name));
        else chownSync(join(dir, e.name), AGENT_UID, AGENT_UID);
      }
    };
    chownTree(dataDir);
    const note = await runCli(["note", "replaced the receiving card", "--config", config]);
    expect(note.code, note.stderr).toBe(0);
    expect(note.stdout).toMatch(/^noted as seq \d+/);
    const owners = (dir: string): number[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [statSync(join(dir, e.name)).uid, ...owners(join(dir, e.name))] : [statSync(join(dir, e.name)).uid]));
    expect(new Set(owners(dataDir))).toEqual(new Set([AGENT_UID]));
    // A path only root may write: refused, and the refusal says whose it was.
    const rootOnly = join(tmp.dir, "root-only");
    mkdirSync(rootOnly, { mode: 0o700 });
    const out = await runCli(["proofs", "export", "--out", join(rootOnly, "proofs.jsonl"), "--config", config]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/permission denied.*\(run as root, this command acts as the agent's user, uid 65534: give it paths that user may use, or write to stdout\)\n$/);
  });
});
