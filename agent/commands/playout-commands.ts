// Live orders for what plays: suspend, resume, take down, play now, and the technician's test
// plays and patterns. The playout does the work and records its own events; these check the
// args as an operator would expect and hand the order over.
import { noArgs, patternArgs, playNowArgs, suspendArgs, takedownArgs, testPlayArgs } from "./args.js";
import { defineCommand, need, nowMs, type Command } from "./definition.js";
import { CommandFailure, type TakedownTarget } from "./types.js";

/** spec/mqtt-api.md: the screenshot travels base64 in the result, at most 256 KiB of JPEG. */
export const MAX_SCREENSHOT_BYTES = 256 * 1024;

const DEFAULT_PATTERN_SECONDS = 60;

const suspend = defineCommand({
  name: "suspend",
  summary: "a live suspension of the whole screen or some campaigns, with a reason and an expected resume time",
  args: suspendArgs,
  changes: true,
  async run(args, deps, ctx) {
    const playout = need(deps, "playout", "the playout");
    if (args.until !== undefined && Date.parse(args.until) <= nowMs(deps)) {
      throw new CommandFailure("bad-args", `until: ${args.until} is not in the future`);
    }
    return playout.suspend({
      reason: args.reason,
      until: args.until ?? null,
      campaigns: args.campaigns ?? null,
      blackout: args.blackout ?? false,
      origin: ctx.origin,
    });
  },
});

const resume = defineCommand({
  name: "resume",
  summary: "ends the live suspension; plays it cost are owed as make-goods",
  args: noArgs,
  changes: true,
  run: async (_args, deps, ctx) => need(deps, "playout", "the playout").resume(ctx.origin),
});

const takedown = defineCommand({
  name: "takedown",
  summary: "takes a campaign or creative off air (or, with lift, back on)",
  args: takedownArgs,
  changes: true,
  async run(args, deps, ctx) {
    const playout = need(deps, "playout", "the playout");
    // The schema has made sure exactly one of the two is there.
    const target: TakedownTarget = args.campaign !== undefined ? { campaign: args.campaign } : { creative: args.creative as string };
    if (args.lift) {
      await playout.liftTakedown(target, ctx.origin);
      return { lifted: target };
    }
    return playout.takedown({ target, immediate: args.immediate ?? true, origin: ctx.origin });
  },
});

const playNow = defineCommand({
  name: "play.now",
  summary: "interrupts with an approved creative of the applied schedule",
  args: playNowArgs,
  changes: true,
  run: async (args, deps, ctx) => need(deps, "playout", "the playout").playNow(args.creative, args.times ?? 1, ctx.origin),
});

const screenshot = defineCommand({
  name: "screenshot",
  summary: "a JPEG of what the player shows, base64",
  args: noArgs,
  changes: false,
  async run(_args, deps) {
    const jpeg = await need(deps, "playout", "the playout").screenshot();
    if (jpeg.length > MAX_SCREENSHOT_BYTES) throw new CommandFailure("too-large", `the screenshot is ${jpeg.length} bytes, over the ${MAX_SCREENSHOT_BYTES} limit`);
    return { mime: "image/jpeg", bytes: jpeg.length, base64: jpeg.toString("base64") };
  },
});

const testPlay = defineCommand({
  name: "play",
  summary: "a technician's test play of a local file (ledger events, never a paid play)",
  args: testPlayArgs,
  changes: true,
  localOnly: true,
  run: async (args, deps, ctx) => need(deps, "playout", "the playout").testPlay(args.file, args.times ?? 1, ctx.origin),
});

const pattern = defineCommand({
  name: "pattern",
  summary: "a test pattern rendered at the panel's exact size, shown for some seconds",
  args: patternArgs,
  changes: true,
  localOnly: true,
  async run(args, deps, ctx) {
    const seconds = args.seconds ?? DEFAULT_PATTERN_SECONDS;
    await need(deps, "playout", "the playout").showPattern(args.name, seconds, ctx.origin);
    return { pattern: args.name, seconds };
  },
});

export const playoutCommands: readonly Command[] = [suspend, resume, takedown, playNow, screenshot, testPlay, pattern];
