// `sudo ledagent …` on an installed box acts as the agent's user: the data directory's owner.
import { chmodSync, chownSync, readdirSync, statSync } from "node:fs";
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
  };
}

describe("root becomes the data directory's owner", () => {
  it("switches groups, gid, then uid, only for root and only to a non-root owner", () => {
    const root = fakeProcess(0);
    expect(runAsDataDirOwner("/d", root, () => ({ uid: 999, gid: 998 }))).toEqual({ uid: 999, gid: 998 });
    expect(root.calls).toEqual(["initgroups 999 998", "setgid 998", "setuid 999"]);
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
  });
});
