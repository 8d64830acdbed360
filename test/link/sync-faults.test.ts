// Proof sync under faults, end to end: a real mosquitto, `ledagent run` playing on headless mpv
// with a backlog of play entries written while it was "offline", and `ledagent ops collect` in its
// own process. Each fault strikes while the collector holds some of the backlog but not all; once
// things are back, the collector must hold exactly the device's ledger (every seq once, the
// device's hash, no gap, no problem) and the agent's outbox must reach its head.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InFlightBatch } from "../../agent/proofs/outbox.js";
import { tempDir } from "../helpers/tmp.js";
import { makeClips, ProofsWatch, SyncRig, until, type Clips, type CollectorProcess } from "./sync-faults-rig.js";

/** Large enough that the drain takes seconds even on a fast machine. */
const BACKLOG = 12_000;
/** Strike once the collector holds this much: several batches in, most of the backlog still to go. */
const STRIKE_AT = 1500;

describe("proof sync under faults", () => {
  const files = tempDir("ledagent-sync-faults-");
  let clips: Clips;
  let rig: SyncRig | null = null;
  let n = 0;

  beforeAll(() => {
    clips = makeClips(files.dir);
  });
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });
  afterAll(() => files.cleanup());

  const rigDir = (): string => `${files.dir}/rig-${++n}`;
  /** A rig for one test: the afterEach closes it. */
  async function newRig(): Promise<SyncRig> {
    rig = await SyncRig.create(rigDir(), clips, BACKLOG);
    return rig;
  }

  it("the broker killed (SIGKILL) mid-sync and restarted on the same port: the collector ends with exactly the device's ledger", async () => {
    const r = await newRig();
    await r.startCollector();
    await r.startAgent();
    await r.midSync(STRIKE_AT);
    await r.broker.kill();
    await until("the agent to see its link down", async () => ((await r.status())?.host?.linkConnected === false ? true : null), 15_000, () => r.diagnostics());
    // The collector stores what it had taken in before the broker died, then nothing more.
    expect(await r.settledCollectorHead()).toBeLessThan(r.backlogHead);
    await r.broker.restart();
    await r.expectExactCopy();
  }, 120_000);

  it("the agent killed -9 mid-sync and started again: the batch in flight goes again with its id, the collector stores it once", async () => {
    const r = await newRig();
    const watch = await ProofsWatch.open(r.broker.url);
    try {
      const collector = await r.startCollector();
      await r.startAgent();

      // At whatever moment the drain is in when the kill lands. The batch recorded in flight was
      // stored once whatever the moment: sent again with its id (duplicates when the collector had
      // it), or settled by the collector's ack that waited in the agent's session while it was down.
      await r.midSync(STRIKE_AT);
      let agent = r.agent!;
      r.agents.killGroup(agent);
      await agent.exited;
      const struck = r.inFlight();
      await r.startAgent();
      // (No batch is recorded in flight when the kill fell between an ack and the next batch.)
      if (struck) {
        await until(`the collector to settle batch ${struck.id}`, () => (storedOnce(collector, struck) ? true : null), 30_000, () => r.diagnostics());
      }

      // With the batch in flight on the broker and no ack for it yet (the collector is paused):
      // the agent started again must send that very batch again, and the collector counts it as duplicates.
      await r.midSync(r.collectorHead() + 2 * STRIKE_AT);
      collector.signal("SIGSTOP");
      const waiting = await awaitingAck(r, watch);
      agent = r.agent!;
      r.agents.killGroup(agent);
      await agent.exited;
      expect(r.inFlight()).toEqual(waiting);
      expect(r.collectorHead()).toBeLessThan(r.backlogHead);
      await r.startAgent();
      await until(`the agent started again to send batch ${waiting.id} again`, () => (watch.seen(waiting.id) >= 2 ? true : null), 20_000, () => r.diagnostics());
      collector.signal("SIGCONT");
      await until(`the collector to take batch ${waiting.id} twice`, () => (collector.reportsOf(waiting.id).length >= 2 ? true : null), 30_000, () => r.diagnostics());
      const count = waiting.throughSeq - waiting.fromSeq + 1;
      expect(collector.reportsOf(waiting.id).map((x) => ({ from: x.fromSeq, through: x.throughSeq, stored: x.stored, duplicates: x.duplicates, acked: x.acked, problems: x.problems }))).toEqual([
        { from: waiting.fromSeq, through: waiting.throughSeq, stored: count, duplicates: 0, acked: waiting.throughSeq, problems: [] },
        { from: waiting.fromSeq, through: waiting.throughSeq, stored: 0, duplicates: count, acked: waiting.throughSeq, problems: [] },
      ]);

      await r.expectExactCopy();
      // Each entry was stored by exactly one batch's report, however often it came: the rest were duplicates.
      await r.agents.terminate(r.agent!);
      await r.settledCollectorHead();
      expect(storedInReports([collector])).toBe(r.collectorRows().length);
    } finally {
      await watch.close();
    }
  }, 120_000);

  it("the collector killed -9 mid-sync and started again: its persistent session hands it the batch in flight, and the drain goes on", async () => {
    const r = await newRig();
    const watch = await ProofsWatch.open(r.broker.url);
    try {
      const first = await r.startCollector();
      await r.startAgent();
      await r.midSync(STRIKE_AT);
      await first.kill();
      const waiting = await awaitingAck(r, watch);
      expect(await r.settledCollectorHead(500)).toBeLessThan(r.backlogHead);
      const second = await r.startCollector();
      // Well before the agent's 30 s re-send: the broker kept the batch for the collector's session.
      await until(`the collector started again to get batch ${waiting.id}`, () => (second.reportsOf(waiting.id).length > 0 ? true : null), 20_000, () => r.diagnostics());
      expect(watch.seen(waiting.id), "the agent sent the batch once: the broker redelivered it").toBe(1);
      await r.expectExactCopy();
    } finally {
      await watch.close();
    }
  }, 120_000);

  // A group member keeps no session (a broker goes on handing a member whose session lives its
  // share of the batches, connected or not): the survivor takes everything, and the batch the
  // dead one took down is sent again by the agent.
  describe("two collectors of one group on one database, one of them killed -9 mid-sync", () => {
    let r: SyncRig;
    let killedAt = 0;
    let survivor: CollectorProcess;
    const group = (id: string): string[] => ["--group", "proofs", "--client-id", id];

    beforeAll(async () => {
      r = await SyncRig.create(rigDir(), clips, BACKLOG);
      const one = await r.startCollector(group("collector-1"));
      survivor = await r.startCollector(group("collector-2"));
      await r.startAgent();
      await r.midSync(STRIKE_AT);
      expect(one.reports.length * survivor.reports.length, "both members took batches before the kill").toBeGreaterThan(0);
      await one.kill();
      killedAt = survivor.reports.length;
    }, 90_000);
    afterAll(async () => {
      await r?.close();
    });

    // Members keep no session: a dead member is handed nothing more, so the survivor takes the
    // whole drain at once (with 7-day sessions it waited out the agent's 30 s ack timeout per batch).
    it("once the agent sent again the batch the dead member took down (proofs.sync hurries it), the other member takes the rest at full speed", async () => {
      // If the dead member took a batch down, the agent waits on it: proofs.sync re-sends it at once
      // (asked once the batch is 1.5 s old, since it re-sends only batches sent a second ago or more).
      // With sessions kept, every other batch went to the dead member and waited 30 s: five more
      // could never be stored within 20 s.
      const from = survivor.reports.length;
      let asked: Promise<number> | null = null;
      await until("the surviving member to store five more batches", async () => {
        if (survivor.reports.slice(from).filter((x) => x.stored > 0).length >= 5) return true;
        const sentAt = asked ? undefined : (await r.status())?.sync?.inFlight?.sentAt;
        if (sentAt && Date.now() - Date.parse(sentAt) >= 1500) asked = r.proofsSync();
        return null;
      }, 20_000, () => r.diagnostics());
      const syncing = asked ?? r.proofsSync();
      expect(survivor.reports.length).toBeGreaterThan(killedAt);
      expect(await syncing).toBeGreaterThanOrEqual(BACKLOG);
    }, 100_000);

    it("with the member started again, the collectors end with exactly the device's ledger", async () => {
      await r.startCollector(group("collector-1"));
      await r.expectExactCopy();
    }, 90_000);
  });
});

/** Once the collector's reports of a batch say it was stored exactly once, whole, and acked. */
function storedOnce(collector: CollectorProcess, batch: InFlightBatch): boolean {
  const reports = collector.reportsOf(batch.id);
  const count = batch.throughSeq - batch.fromSeq + 1;
  if (reports.length === 0) return false;
  expect(reports.reduce((sum, x) => sum + x.stored, 0)).toBe(count);
  for (const x of reports) expect({ stored: x.stored + x.duplicates, acked: x.acked, problems: x.problems }).toEqual({ stored: count, acked: batch.throughSeq, problems: [] });
  return true;
}

function storedInReports(collectors: CollectorProcess[]): number {
  return collectors.flatMap((c) => c.reports).reduce((sum, x) => sum + x.stored, 0);
}

/** The batch the agent sent and is still waiting on (the same one for `stillMs`), as its outbox recorded it. */
async function awaitingAck(r: SyncRig, watch: ProofsWatch, stillMs = 1000): Promise<InFlightBatch> {
  let last: { id: string; since: number } | null = null;
  return until("a batch in flight waiting for its ack", async () => {
    const f = (await r.status())?.sync?.inFlight;
    if (!f?.sentAt) return (last = null);
    if (last?.id !== f.batch) last = { id: f.batch, since: Date.now() };
    if (Date.now() - last.since < stillMs || watch.seen(f.batch) === 0) return null;
    return { id: f.batch, fromSeq: f.fromSeq, throughSeq: f.throughSeq };
  }, 20_000, () => r.diagnostics());
}
