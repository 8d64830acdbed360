// Commands that reach the LED controller. The daemon owns the serial port, so while it runs the
// CLI's `controller …` goes through these rather than opening a second link.
import type { PatternName } from "../drivers/types.js";
import { blackoutArgs, brightnessSetArgs, controllerPatternArgs, noArgs } from "./args.js";
import { defineCommand, need, nowMs, type Command } from "./definition.js";

const MINUTE_MS = 60_000;

const brightnessSet = defineCommand({
  name: "brightness.set",
  summary: "sets the controller's brightness; with forMinutes an override that then hands back to the brightness schedule",
  args: brightnessSetArgs,
  changes: true,
  async run(args, deps) {
    const controller = need(deps, "controller", "the controller");
    if (args.forMinutes !== undefined) {
      const until = nowMs(deps) + args.forMinutes * MINUTE_MS;
      await need(deps, "brightness", "the brightness schedule").override(args.percent, until);
      return { percent: args.percent, until: new Date(until).toISOString() };
    }
    // Without a duration it holds until the schedule's next change; an older override must not
    // reassert itself over it.
    await deps.brightness?.clearOverride();
    await controller.setBrightness(args.percent);
    return { percent: args.percent, until: null };
  },
});

const screenBlackout = defineCommand({
  name: "screen.blackout",
  summary: "blacks the screen out at the controller (on) or back to video (off)",
  args: blackoutArgs,
  changes: true,
  async run(args, deps) {
    await need(deps, "controller", "the controller").setBlackout(args.on);
    return { blackout: args.on };
  },
});

const controllerStatus = defineCommand({
  name: "controller.status",
  summary: "the controller's model, firmware, brightness, blackout, pattern, temperature and faults, read now",
  args: noArgs,
  changes: false,
  async run(_args, deps) {
    const controller = need(deps, "controller", "the controller");
    const status = await controller.status();
    // The identity needs an answering controller; an offline one still reports its status.
    const identity = status.online ? await controller.probe().catch(() => null) : null;
    return { driver: controller.driver, port: controller.port, identity, status };
  },
});

const controllerProbe = defineCommand({
  name: "controller.probe",
  summary: "the controller's model and firmware",
  args: noArgs,
  changes: false,
  localOnly: true,
  run: async (_args, deps) => need(deps, "controller", "the controller").probe(),
});

const controllerPattern = defineCommand({
  name: "controller.pattern",
  summary: "the controller's own test pattern, or off",
  args: controllerPatternArgs,
  changes: true,
  localOnly: true,
  async run(args, deps) {
    await need(deps, "controller", "the controller").setPattern(args.name as PatternName);
    return { pattern: args.name };
  },
});

export const controllerCommands: readonly Command[] = [brightnessSet, screenBlackout, controllerStatus, controllerProbe, controllerPattern];
