import { describe, expect, it } from "vitest";
import { EntryTracker, type ItemOutcome, type PlayItem } from "../../../agent/playback/player/entries.js";
import { fileOptions, mpvArgs } from "../../../agent/playback/player/index.js";

const at = (ms: number) => ({ wallMs: 1_800_000_000_000 + ms, monoMs: ms });
const item = (id: string): PlayItem => ({ id, file: `/c/${id}.mp4`, kind: "video" });
const summary = (outs: ItemOutcome[]) =>
  outs.map((o) => (o.type === "ended" ? `ended ${o.event.item.id} ${o.event.reason}` : `${o.type} ${o.event.item.id}`));

describe("EntryTracker: mpv events to items", () => {
  it("maps queued items by playlist entry id, the same file twice included", () => {
    const t = new EntryTracker();
    const a = t.appended({ ...item("a"), file: "/c/same.mp4" });
    const b = t.appended({ ...item("b"), file: "/c/same.mp4" });
    expect(t.assigned(a, 1, false)).toEqual([]);
    expect(t.assigned(b, 2, false)).toEqual([]);
    const outs = [
      ...t.onEvent("start-file", { playlist_entry_id: 1 }, at(0)),
      ...t.onEvent("file-loaded", {}, at(5)),
      ...t.onEvent("playback-restart", {}, at(10)),
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 1 }, at(2010)),
      ...t.onEvent("start-file", { playlist_entry_id: 2 }, at(2011)),
      ...t.onEvent("playback-restart", {}, at(2015)),
      ...t.onEvent("playback-restart", {}, at(2500)), // a seek: not a second start
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 2 }, at(4015)),
    ];
    expect(summary(outs)).toEqual(["started a", "ended a eof", "started b", "ended b eof"]);
    const endedA = outs[1];
    expect(endedA.type === "ended" && endedA.event.startedAt).toEqual(at(10));
    expect(t.pending()).toEqual([]);
  });

  it("keeps events that arrive before the loadfile reply and replays them", () => {
    const t = new EntryTracker();
    const a = t.appended(item("a"));
    expect(t.onEvent("start-file", { playlist_entry_id: 9 }, at(0))).toEqual([]);
    expect(t.onEvent("playback-restart", {}, at(3))).toEqual([]);
    expect(summary(t.assigned(a, 9, false))).toEqual(["started a"]);
  });

  it("an unreadable file ends with error, mpv's reason, and no start", () => {
    const t = new EntryTracker();
    const a = t.appended(item("a"));
    t.assigned(a, 3, false);
    t.onEvent("start-file", { playlist_entry_id: 3 }, at(0));
    const [out] = t.onEvent("end-file", { reason: "error", playlist_entry_id: 3, file_error: "unrecognized file format" }, at(4));
    expect(out).toEqual({ type: "ended", event: { item: a.item, reason: "error", at: at(4), startedAt: null, error: "unrecognized file format" } });
  });

  it("a replace discards what was queued and not started once mpv confirms it", () => {
    const t = new EntryTracker();
    const a = t.appended(item("a"));
    const b = t.appended(item("b"));
    t.assigned(a, 1, false);
    t.assigned(b, 2, false);
    t.onEvent("start-file", { playlist_entry_id: 1 }, at(0));
    t.onEvent("playback-restart", {}, at(1));
    const c = t.replaced(item("c"));
    const later = t.appended(item("d")); // queued after the replace: kept
    expect(summary(t.assigned(c, 3, true))).toEqual(["discarded b"]);
    t.assigned(later, 4, false);
    expect(summary(t.onEvent("end-file", { reason: "stop", playlist_entry_id: 1 }, at(50)))).toEqual(["ended a stop"]);
    expect(t.pending().map((i) => i.id)).toEqual(["c", "d"]);
  });

  it("knows which finished entries lead mpv's playlist, for pruning", () => {
    const t = new EntryTracker();
    const slots = ["a", "b", "c"].map((id) => t.appended(item(id)));
    slots.forEach((s, i) => t.assigned(s, i + 1, false));
    expect(t.finishedBefore(3)).toBe(2);
    t.removedFromFront(2);
    expect(t.finishedBefore(3)).toBe(0);
    expect(t.finishedBefore(99)).toBe(0);
  });

  it("a death ends what played with error and discards the rest", () => {
    const t = new EntryTracker();
    const a = t.appended(item("a"));
    const b = t.appended(item("b"));
    t.assigned(a, 1, false);
    t.assigned(b, 2, false);
    t.onEvent("start-file", { playlist_entry_id: 1 }, at(0));
    t.onEvent("playback-restart", {}, at(1));
    const outs = t.lost(at(700), "error", "mpv exited (SIGKILL)");
    expect(summary(outs)).toEqual(["ended a error", "discarded b"]);
    expect(outs[0].type === "ended" && outs[0].event.error).toBe("mpv exited (SIGKILL)");
    expect(t.pending()).toEqual([]);
  });
});

describe("EntryTracker: a playlist-clear, confirmed by mpv's playlist listed right after it", () => {
  /** Items appended and given mpv entry ids 1, 2, 3… in order (the loadfile replies read). */
  function queuedOn(t: EntryTracker, ids: string[], firstEntryId = 1) {
    return ids.map((id, i) => {
      const slot = t.appended(item(id));
      t.assigned(slot, firstEntryId + i, false);
      return slot;
    });
  }
  const playing = (t: EntryTracker, entryId: number, ms: number) => [
    ...t.onEvent("start-file", { playlist_entry_id: entryId }, at(ms)),
    ...t.onEvent("playback-restart", {}, at(ms + 5)),
  ];

  it("drops what was queued and not started; what plays goes on, and what was queued after the clear stays", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b", "c"]);
    expect(summary(playing(t, 1, 0))).toEqual(["started a"]);
    const clear = t.clearSent();
    const d = t.appended(item("d")); // sent after the clear: its loadfile ran after the listing
    const outs = t.clearConfirmed(clear, [1]);
    expect(outs).toEqual([
      { type: "discarded", event: { item: item("b"), why: "cleared" } },
      { type: "discarded", event: { item: item("c"), why: "cleared" } },
    ]);
    expect(t.assigned(d, 4, false)).toEqual([]);
    expect(t.pending().map((i) => i.id)).toEqual(["a", "d"]);
    const rest = [...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 1 }, at(1000)), ...playing(t, 4, 1001)];
    expect(summary(rest)).toEqual(["ended a eof", "started d"]);
  });

  it("start-file just before the reply: that item is mpv's current one, and it plays", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b", "c"]);
    playing(t, 1, 0);
    const clear = t.clearSent();
    expect(summary(t.onEvent("end-file", { reason: "eof", playlist_entry_id: 1 }, at(1000)))).toEqual(["ended a eof"]);
    expect(t.onEvent("start-file", { playlist_entry_id: 2 }, at(1001))).toEqual([]);
    expect(summary(t.clearConfirmed(clear, [2]))).toEqual(["discarded c"]);
    const rest = [
      ...t.onEvent("playback-restart", {}, at(1010)),
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 2 }, at(2010)),
    ];
    expect(summary(rest)).toEqual(["started b", "ended b eof"]);
    expect(t.pending()).toEqual([]);
  });

  it("start-file overtaken by the reply: the listing still shows which item mpv kept", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b", "c"]);
    playing(t, 1, 0);
    const clear = t.clearSent();
    // a ended and b became current before mpv ran the clear; those events are read after it.
    expect(summary(t.clearConfirmed(clear, [1, 2]))).toEqual(["discarded c"]);
    const rest = [
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 1 }, at(1000)),
      ...playing(t, 2, 1001),
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 2 }, at(2010)),
    ];
    expect(summary(rest)).toEqual(["ended a eof", "started b", "ended b eof"]);
  });

  it("on an idle mpv everything queued goes; an entry a loadfile already made current stays", () => {
    const idle = new EntryTracker();
    queuedOn(idle, ["a", "b"]);
    expect(summary(idle.clearConfirmed(idle.clearSent(), []))).toEqual(["discarded a", "discarded b"]);
    expect(idle.pending()).toEqual([]);

    // append-play on an idle mpv makes the entry current at once; its start-file comes later.
    const justLoaded = new EntryTracker();
    queuedOn(justLoaded, ["a", "b"]);
    expect(summary(justLoaded.clearConfirmed(justLoaded.clearSent(), [1]))).toEqual(["discarded b"]);
    expect(summary(playing(justLoaded, 1, 10))).toEqual(["started a"]);
  });

  it("a cleared item is never reported started, whatever mpv sends about it later", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b"]);
    playing(t, 1, 0);
    expect(summary(t.clearConfirmed(t.clearSent(), [1]))).toEqual(["discarded b"]);
    const later = [
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 1 }, at(1000)),
      ...playing(t, 2, 1001),
      ...t.onEvent("end-file", { reason: "eof", playlist_entry_id: 2 }, at(2000)),
    ];
    expect(summary(later)).toEqual(["ended a eof"]);
  });

  it("a replace read before the listing discards first, and the clear finds nothing more", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b"]);
    playing(t, 1, 0);
    const clear = t.clearSent();
    const c = t.replaced(item("c"));
    expect(summary(t.assigned(c, 3, true))).toEqual(["discarded b"]);
    expect(t.clearConfirmed(clear, [3])).toEqual([]);
    expect(summary(t.onEvent("end-file", { reason: "stop", playlist_entry_id: 1 }, at(300)))).toEqual(["ended a stop"]);
    expect(t.pending().map((i) => i.id)).toEqual(["c"]);
  });

  it("pruning waits for the listing, then counts only what mpv kept; after a failed clear, until a stop or replace", () => {
    const t = new EntryTracker();
    queuedOn(t, ["a", "b", "c"]);
    playing(t, 1, 0);
    const clear = t.clearSent();
    queuedOn(t, ["d"], 4);
    expect(t.finishedBefore(4)).toBe(0);
    t.clearConfirmed(clear, [1]);
    expect(t.finishedBefore(4)).toBe(1); // mpv holds [a, d]

    const failing = new EntryTracker();
    queuedOn(failing, ["a", "b"]);
    failing.clearFailed(failing.clearSent());
    expect(failing.finishedBefore(2)).toBe(0);
    const e = failing.replaced(item("e"));
    failing.assigned(e, 3, true);
    queuedOn(failing, ["f"], 4);
    expect(failing.finishedBefore(4)).toBe(1);
  });
});

describe("mpv's command line and per-file options", () => {
  const base = { socketPath: "/run/x/mpv.sock", panel: { width: 640, height: 320 }, output: { x: 1920, y: 0 }, audio: false };
  it("headless: null outputs, no window; on screen: a borderless window at the panel's place", () => {
    const headless = mpvArgs({ ...base, headless: true });
    expect(headless).toEqual(expect.arrayContaining(["--vo=null", "--ao=null", "--idle=yes", "--keep-open=no", "--no-audio", "--geometry=640x320+1920+0"]));
    expect(headless).not.toContain("--force-window=yes");
    const shown = mpvArgs({ ...base, headless: false, audio: true, output: { x: -10, y: 5 } });
    expect(shown).toEqual(expect.arrayContaining(["--force-window=yes", "--border=no", "--osd-level=0", "--geometry=640x320-10+5"]));
    expect(shown).not.toContain("--no-audio");
    expect(shown.some((a) => a.startsWith("--vo="))).toBe(false);
  });

  it("a still carries its duration; a video none; a still without one is refused", () => {
    expect(fileOptions({ id: "s", file: "/s.png", kind: "still", durationMs: 2500 })).toBe("image-display-duration=2.500");
    expect(fileOptions(item("v"))).toBe("");
    expect(() => fileOptions({ id: "s", file: "/s.png", kind: "still" })).toThrow(/positive durationMs/);
  });

  it("a cut: end= for a video, the time on screen for a still; anything but a positive finite length is refused", () => {
    expect(fileOptions({ ...item("v"), lengthMs: 600 })).toBe("end=0.600");
    expect(fileOptions({ ...item("v"), lengthMs: 1234.5678 })).toBe("end=1.235");
    expect(fileOptions({ ...item("v"), lengthMs: 0.2 })).toBe("end=0.001");
    expect(fileOptions({ id: "s", file: "/s.png", kind: "still", durationMs: 2500, lengthMs: 800 })).toBe("image-display-duration=0.800");
    expect(fileOptions({ id: "s", file: "/s.png", kind: "still", lengthMs: 800 })).toBe("image-display-duration=0.800");
    for (const lengthMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => fileOptions({ ...item("v9"), lengthMs })).toThrow(RangeError);
      expect(() => fileOptions({ ...item("v9"), lengthMs })).toThrow(/^item v9: lengthMs must be a positive finite number/);
      expect(() => fileOptions({ id: "s9", file: "/s.png", kind: "still", durationMs: 2500, lengthMs })).toThrow(/^item s9: lengthMs/);
    }
  });
});
