// The doctor's plumbing: checks run side by side within their own limits (a throw or a hang costs
// one line), programs are run without a shell, the agent's own "fix with" phrases are split off,
// and whose view the checks take.
import { describe, expect, it, vi } from "vitest";
import { becomeUser, lookupUser, mayAccess, resolveAgentUser, systemdUnit, type Accounts, type Identity } from "../../agent/doctor/identity.js";
import { runCheck, runChecks, runProgram } from "../../agent/doctor/run.js";
import { ok, splitFix, type ProgramResult } from "../../agent/doctor/types.js";

describe("runChecks", () => {
  it("keeps the given order, turns a throw into a fail naming the error, and a hang into a fail at its limit", async () => {
    const began = Date.now();
    const results = await runChecks([
      { name: "slow", run: () => new Promise((r) => setTimeout(() => r(ok("slow", "done")), 150)) },
      { name: "throws", run: () => Promise.reject(new Error("ENOSPC: no space left\nstack …")) },
      { name: "hangs", timeoutMs: 100, run: () => new Promise(() => undefined) },
      { name: "sync", run: () => ok("sync", "fine") },
    ]);
    expect(results.map((r) => [r.name, r.level])).toEqual([
      ["slow", "ok"],
      ["throws", "fail"],
      ["hangs", "fail"],
      ["sync", "ok"],
    ]);
    expect(results[1].detail).toBe("the check failed: ENOSPC: no space left");
    expect(results[2].detail).toBe("the check did not finish within 0.1 s");
    expect(results[2].fix).toMatch(/ledagent doctor/);
    // Side by side: the whole took about the slowest, not the sum.
    expect(Date.now() - began).toBeLessThan(1000);
  });

  it("a check that throws synchronously is still a line", async () => {
    const r = await runCheck({
      name: "boom",
      run: () => {
        throw new TypeError("x is undefined");
      },
    });
    expect(r).toMatchObject({ name: "boom", level: "fail", detail: "the check failed: x is undefined" });
  });
});

describe("runProgram", () => {
  it("says null for a program that is not installed, and gives status and output otherwise", async () => {
    expect(await runProgram("ledagent-no-such-program", [])).toBeNull();
    const r = (await runProgram("sh", ["-c", "echo out; echo err >&2; exit 3"])) as ProgramResult;
    expect(r).toEqual({ status: 3, stdout: "out\n", stderr: "err\n" });
  });

  it("kills a program at its time limit", async () => {
    const r = await runProgram("sleep", ["5"], 100);
    expect(r?.status).toBeNull();
  });
});

describe("splitFix", () => {
  it("splits the agent's own fix off its messages", () => {
    expect(splitFix("/etc/x.yaml: is writable by group or others (mode 0664); fix with `chmod go-w /etc/x.yaml`")).toEqual({
      detail: "/etc/x.yaml: is writable by group or others (mode 0664)",
      fix: "`chmod go-w /etc/x.yaml`",
    });
    expect(splitFix("something else")).toEqual({ detail: "something else", fix: null });
  });
});

const accounts: Accounts = {
  passwd: "root:x:0:0:root:/root:/bin/bash\nledagent:x:998:998::/var/lib/ledagent:/usr/sbin/nologin\ntech:x:1000:1000::/home/tech:/bin/bash\n",
  group: "root:x:0:\ndialout:x:20:tech\nvideo:x:44:\nrender:x:105:\nledagent:x:998:tech\ntech:x:1000:\n",
};
const me: Identity = { name: "tech", uid: 1000, gid: 1000, groups: [1000, 20, 998] };

describe("whose view", () => {
  it("reads users and their groups from the account files, adding the unit's supplementary groups", () => {
    expect(lookupUser("ledagent", accounts, ["video", "dialout", "render", "nosuchgroup"])).toEqual({ name: "ledagent", uid: 998, gid: 998, groups: [998, 44, 20, 105] });
    expect(lookupUser("tech", accounts)?.groups).toEqual([1000, 20, 998]);
    expect(lookupUser("nobody-here", accounts)).toBeNull();
  });

  it("takes the systemd unit's user first, then the control socket's owner, then the data directory's, then the doctor's own", () => {
    const owners: Record<string, number> = { "/run/ledagent/control.sock": 998, "/var/lib/ledagent": 1000 };
    const ownerOf = (p: string): number | null => owners[p] ?? null;
    const base = { socketPath: "/run/ledagent/control.sock", dataDir: "/var/lib/ledagent", me, accounts, ownerOf };
    expect(resolveAgentUser({ ...base, unit: { activeState: "active", user: "ledagent", supplementaryGroups: ["dialout"], environment: {} } })).toMatchObject({ name: "ledagent", source: expect.stringContaining("systemd unit") });
    // A unit with no User= runs as root.
    expect(resolveAgentUser({ ...base, unit: { activeState: "active", user: "", supplementaryGroups: [], environment: {} } })).toMatchObject({ name: "root", uid: 0 });
    expect(resolveAgentUser({ ...base, unit: null })).toMatchObject({ name: "ledagent", source: "the owner of the control socket" });
    expect(resolveAgentUser({ ...base, unit: null, socketPath: null })).toMatchObject({ name: "tech", source: "the owner of the data directory" });
    expect(resolveAgentUser({ ...base, unit: null, ownerOf: () => null })).toMatchObject({ name: "tech", source: "the user running the doctor" });
  });

  it("reads the unit from systemctl, and none where systemd has no such unit or is not there", async () => {
    const answer = (stdout: string, status = 0) => async () => ({ status, stdout, stderr: "" });
    const shown = 'LoadState=loaded\nActiveState=failed\nUser=ledagent\nSupplementaryGroups=video dialout render\nEnvironment=LEDAGENT_PLAYER_HEADLESS=true "DISPLAY=:0" "NOTE=two words"\n';
    expect(await systemdUnit(answer(shown))).toEqual({
      activeState: "failed",
      user: "ledagent",
      supplementaryGroups: ["video", "dialout", "render"],
      environment: { LEDAGENT_PLAYER_HEADLESS: "true", DISPLAY: ":0", NOTE: "two words" },
    });
    expect(await systemdUnit(answer("LoadState=not-found\nActiveState=inactive\nUser=\nSupplementaryGroups=\n"))).toBeNull();
    expect(await systemdUnit(answer("", 1))).toBeNull();
    expect(await systemdUnit(async () => null)).toBeNull();
  });

  it("takes an identity groups first, then group, then user (the order the kernel allows)", () => {
    const calls: string[] = [];
    const proc = {
      setgroups: vi.fn((g: readonly (string | number)[]) => calls.push(`groups ${g.join(",")}`)),
      setgid: vi.fn((g: number | string) => calls.push(`gid ${g}`)),
      setuid: vi.fn((u: number | string) => calls.push(`uid ${u}`)),
    };
    becomeUser({ name: "ledagent", uid: 998, gid: 998, groups: [998, 20] }, proc);
    expect(calls).toEqual(["groups 998,20", "gid 998", "uid 998"]);
  });

  it("judges access by owner, group and other bits; root may do anything", () => {
    const device = { uid: 0, gid: 20, mode: 0o20660 };
    expect(mayAccess(device, me, "rw")).toBe(true); // tech is in dialout
    expect(mayAccess(device, { ...me, groups: [1000] }, "rw")).toBe(false);
    expect(mayAccess(device, { ...me, uid: 0 }, "rw")).toBe(true);
    expect(mayAccess({ uid: 1000, gid: 1000, mode: 0o40500 }, me, "rwx")).toBe(false);
    expect(mayAccess({ uid: 5, gid: 5, mode: 0o40007 }, me, "rwx")).toBe(true);
  });
});
