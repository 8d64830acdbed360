// `ledagent schedule load | plan` and `report delivery`, in-process: every rejection recorded (and
// capped), previews that warn what `load` would refuse, and reports that stop at now.
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { registerScheduleCommands } from "../../../agent/cli/schedule.js";
import { createKeyFiles, publicKeyPem, signCanonical } from "../../../agent/crypto/index.js";
import { MAX_ENVELOPE_BYTES, MAX_REASON_CHARS, MAX_REASONS, ScheduleStore } from "../../../agent/playback/schedule/index.js";
import { openLedgerReader } from "../../../agent/proofs/open.js";
import { runCliInProcess, type CliResult } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const tmp = tempDir("ledagent-cli-schedule-");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const configFile = join(tmp.dir, "config.yaml");
const ops = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const HEX = "a".repeat(64);

/** Runs `ledagent --config … <args>` in-process; returns stdout, stderr and the exit code. */
function ledagent(...args: string[]): Promise<CliResult> {
  return runCliInProcess(registerScheduleCommands, ["--config", configFile, ...args]);
}

function doc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "ledagent.schedule/v1",
    screen: "sz-cli-001",
    version: 3,
    issuedAt: "2026-11-01T00:00:00Z",
    timezone: "Asia/Shanghai",
    creatives: [
      { id: "cola-15", url: "https://cdn.example/cola.mp4", sha256: HEX, durationMs: 15000, approved: true },
      { id: "house", url: "file:///srv/house.mp4", sha256: HEX, durationMs: 30000, approved: true },
    ],
    campaigns: [{ id: "cola-dec", customer: "cola-co", creatives: ["cola-15"], start: "2026-12-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00", playsPerHour: 4 }],
    fill: ["house"],
    ...over,
  };
}

const file = (name: string, content: unknown): string => {
  const path = join(tmp.dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
};
const signed = (schedule: unknown, key = ops.privateKey): { schedule: unknown; sig: string } => ({ schedule, sig: signCanonical(schedule, key) });

function rejections(): Record<string, unknown>[] {
  const { reader, close } = openLedgerReader({ dataDir, runDir });
  try {
    return [...reader.events({ type: "schedule.rejected" })].map((e) => e.event);
  } finally {
    close();
  }
}

beforeAll(() => {
  createKeyFiles(join(dataDir, "keys", "device.key"), join(dataDir, "keys", "device.pub.pem"));
  const opsPub = join(tmp.dir, "ops.pub.pem");
  writeFileSync(opsPub, publicKeyPem(ops.publicKey));
  writeFileSync(configFile, `screenId: sz-cli-001\ndataDir: ${dataDir}\nrunDir: ${runDir}\nopsPublicKey: ${opsPub}\npanel: { width: 64, height: 32 }\n`);
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => tmp.cleanup());

describe("ledagent schedule load: every rejection is recorded", () => {
  it("a file that is not JSON, or is cut short, is rejected and recorded as schedule.rejected", async () => {
    const garbage = file("garbage.json", "this is not json\u0000\u0001");
    const r = await ledagent("schedule", "load", garbage);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ledagent: schedule rejected: not JSON/);
    const text = JSON.stringify(signed(doc()));
    const truncated = await ledagent("schedule", "load", file("truncated.json", text.slice(0, text.length / 2)));
    expect(truncated.code).toBe(1);
    const events = rejections();
    expect(events.slice(-2).map((e) => [e.source, (e.reasons as string[])[0].slice(0, 9)])).toEqual([
      [`file:${garbage}`, "not JSON:"],
      [`file:${join(tmp.dir, "truncated.json")}`, "not JSON:"],
    ]);
  });

  it("a malformed envelope, a bad signature, another screen are all recorded too", async () => {
    const before = rejections().length;
    for (const [name, content] of [
      ["array.json", [1, 2]],
      ["badsig.json", signed(doc(), other.privateKey)],
      ["screen.json", signed(doc({ screen: "sz-other" }))],
    ] as const) {
      expect((await ledagent("schedule", "load", file(name, content))).code).toBe(1);
    }
    const events = rejections().slice(before);
    expect(events.map((e) => (e.reasons as string[]).join(" "))).toEqual([
      expect.stringContaining("malformed"),
      expect.stringContaining("bad signature"),
      expect.stringContaining("wrong screen"),
    ]);
  });

  it("a signed schedule with 1,900 bad campaigns is recorded capped: 50 reasons of at most 500 characters, and a count of the rest", async () => {
    const campaigns = Array.from({ length: 1_900 }, (_, i) => ({
      id: `c${i}`, customer: "x", creatives: [`missing-${"m".repeat(100)}-${i}`], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 1,
    }));
    const r = await ledagent("schedule", "load", file("huge.json", { ...signed(doc({ campaigns })), [`x${"k".repeat(2000)}`]: 1 }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/and 1851 more\n$/);
    const event = rejections().at(-1) as { reasons: string[]; moreReasons: number };
    expect(event.reasons).toHaveLength(MAX_REASONS);
    expect(event.reasons[0]).toMatch(/^malformed: unknown envelope keys xkkk/);
    expect(event.reasons.every((x) => x.length <= MAX_REASON_CHARS)).toBe(true);
    expect(event.moreReasons).toBe(1_901 - MAX_REASONS);
    expect(JSON.stringify(event).length).toBeLessThan(40_000);
  });
});

describe("ledagent schedule load: local media, size", () => {
  it("a file over MAX_ENVELOPE_BYTES is rejected as too large and recorded; the file is not read past the limit", async () => {
    const big = file("big.json", `{"schedule":${" ".repeat(MAX_ENVELOPE_BYTES)}}`);
    const r = await ledagent("schedule", "load", big);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ledagent: schedule rejected: too large: ${MAX_ENVELOPE_BYTES + 1} bytes, more than the limit of ${MAX_ENVELOPE_BYTES}\n`);
    expect(rejections().at(-1)).toMatchObject({ source: `file:${big}`, reasons: [expect.stringMatching(/^too large/)] });
  });
});

describe("ledagent schedule plan --schedule: warns what load would refuse", () => {
  it("a hostile file (buyouts from year 1 to 9999) is refused at once, naming the times", async () => {
    const x = (id: string): Record<string, unknown> => ({ id, customer: id, creatives: ["cola-15"], start: "0001-01-01T00:00:00Z", end: "9999-12-31T00:00:00Z", exclusive: true });
    const r = await ledagent("schedule", "plan", "--schedule", file("hostile.json", { schedule: doc({ campaigns: [x("a"), x("b")] }) }), "--hours", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("campaigns.0 (a).start: 0001-01-01T00:00:00Z is before 2000-01-01T00:00:00Z");
    expect(r.stderr).not.toContain("overlap");
  });


  const args = ["--from", "2026-12-02T00:00:00+08:00", "--hours", "1"];

  it("a bad signature or another screen: plans, with one warning line on stderr and warnings in --json", async () => {
    const bad = file("plan-badsig.json", signed(doc({ screen: "sz-other" }), other.privateKey));
    const r = await ledagent("schedule", "plan", "--schedule", bad, ...args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("cola-dec");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^warning: ${bad} would be rejected by \`schedule load\`: bad signature.*; wrong screen: for sz-other`));
    const json = await ledagent("schedule", "plan", "--schedule", bad, ...args, "--json");
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { warnings: string[]; items: unknown[] };
    expect(parsed.items.length).toBeGreaterThan(0);
    expect(parsed.warnings).toEqual([expect.stringContaining("bad signature")]);
  });

  it("a good envelope: no warning, and warnings: [] in --json", async () => {
    const good = file("plan-good.json", signed(doc()));
    const r = await ledagent("schedule", "plan", "--schedule", good, ...args);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const json = await ledagent("schedule", "plan", "--schedule", good, ...args, "--json");
    expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings).toEqual([]);
  });

  it("reads a --from without an offset in the schedule's zone (Asia/Shanghai), as its dayparts are", async () => {
    const good = file("plan-local.json", signed(doc()));
    const json = await ledagent("schedule", "plan", "--schedule", good, "--from", "2026-12-02T08:00", "--hours", "1", "--json");
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { from: string }).from).toBe("2026-12-02T00:00:00.000Z");
    const bad = await ledagent("schedule", "plan", "--schedule", good, "--from", "next tuesday");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from: "next tuesday" is not a time/);
  });
});

describe("ledagent schedule plan, bounded and streamed", () => {
  it("a plan that would hold millions of items (a month of 1-second fill) is refused up front, naming how many hours fit", async () => {
    const short = doc({ creatives: [{ id: "house", url: "file:///srv/house.mp4", sha256: HEX, durationMs: 1000, approved: true }], campaigns: [] });
    const r = await ledagent("schedule", "plan", "--schedule", file("plan-short.json", signed(short)), "--from", "2026-12-02T00:00", "--hours", "744", "--json");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hours 744: this schedule may need up to 2678400 items in 744 hours, more than the 2000000 a plan holds; plan at most 555 hours at a time/);
    expect(r.stdout).toBe("");
  });

  it("prints the same items as a table and as JSON, one per line", async () => {
    const good = file("plan-both.json", signed(doc()));
    const args = ["schedule", "plan", "--schedule", good, "--from", "2026-12-02T08:00", "--hours", "2"];
    const json = await ledagent(...args, "--json");
    const table = await ledagent(...args);
    expect([json.code, table.code]).toEqual([0, 0]);
    const parsed = JSON.parse(json.stdout) as { items: { creative: string | null }[]; warnings: string[] };
    const rows = table.stdout.split("\n").slice(2, table.stdout.split("\n").findIndex((l) => l.startsWith("shortfalls")));
    expect(parsed.items.length).toBeGreaterThan(10);
    expect(rows).toHaveLength(parsed.items.length);
    expect(rows[0]).toMatch(/^2026-12-02 08:00:00 +\d+\.\d +cola-dec +cola-15 +$/);
    expect(json.stdout.split("\n").filter((l) => l.startsWith("    {")).length).toBe(parsed.items.length); // one item a line
  });
});

describe("ledagent report delivery", () => {
  it("counts only the covered part of a period, stops at now, and prints local dates", async () => {
    const campaigns = [{ id: "cola-nov", customer: "cola-co", creatives: ["cola-15"], start: "2026-11-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00", playsPerHour: 4, makeGood: true }];
    const load = await ledagent("schedule", "load", file("good.json", signed(doc({ version: 9, campaigns }))));
    expect([load.code, load.stderr]).toEqual([0, ""]);
    // As if applied on 1 November, so that past days are contracted.
    const store = new ScheduleStore({ path: join(dataDir, "schedule.json") });
    const current = store.current();
    if (!current) throw new Error("no stored schedule");
    store.save({ format: current.format, envelope: current.envelope, appliedAt: "2026-11-01T00:00:00.000Z", campaignAppliedAt: { "cola-nov": "2026-11-01T00:00:00.000Z" } });
    const second = await ledagent("report", "delivery", "--from", "2026-11-03T00:00:00+08:00", "--to", "2026-11-03T00:00:01+08:00");
    expect([second.code, second.stderr]).toEqual([0, ""]);
    expect(second.stdout.trim().split("\n")).toHaveLength(1); // the header: nothing contracted in one second
    const half = await ledagent("report", "delivery", "--from", "2026-11-03T00:00:00+08:00", "--to", "2026-11-03T01:30:00+08:00", "--format", "csv");
    expect(half.stdout.split("\n")[1]).toBe("2026-11-03,cola-co,cola-nov,6,0,0,6,4"); // the hour in progress is not owed
    const table = await ledagent("report", "delivery", "--from", "2026-11-03T00:00:00+08:00", "--to", "2026-11-03T01:30:00+08:00");
    expect(table.stdout.split("\n")[1]).toMatch(/^2026-11-03 +cola-co +cola-nov +6 +0 +0 +6 +4$/);
    // Beyond now nothing is contracted yet: a window wholly in the future reports nothing.
    const future = await ledagent("report", "delivery", "--from", "2099-12-03T00:00:00+08:00", "--to", "2099-12-04T00:00:00+08:00");
    expect([future.code, future.stdout.trim().split("\n").length]).toEqual([0, 1]);
  });
});
