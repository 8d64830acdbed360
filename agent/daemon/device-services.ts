// The LED controller's services: its link, the status poller (faults and the proof stamp) and the
// brightness schedule. All optional: a screen whose controller cannot be reached still plays, and
// its plays are stamped unverified. The poller and the brightness schedule run only when a driver
// is configured (with `none` there is nothing to poll, and every change would fail).
import type { Config } from "../config.js";
import { BrightnessScheduler, createController, StatusPoller } from "../drivers/index.js";
import { systemClock, systemTimers, type Clock, type Timers } from "../drivers/timers.js";
import type { Logger } from "../log.js";
import type { DeviceEventRecorder } from "./events.js";
import { required, type DaemonParts } from "./parts.js";
import type { Service } from "./services.js";

export interface DeviceServicesDeps {
  config: Config;
  log: Logger;
  parts: DaemonParts;
  recorder: DeviceEventRecorder;
  clock?: Clock;
  timers?: Timers;
}

function controllerService(deps: DeviceServicesDeps): Service {
  return {
    name: "controller",
    optional: true,
    async start() {
      // Opening never waits for an answer: an unreachable controller is retried by its link.
      const controller = createController(deps.config.controller, { log: deps.log, clock: deps.clock });
      await controller.start();
      deps.parts.controller = controller;
    },
    async stop() {
      const controller = deps.parts.controller;
      deps.parts.controller = null;
      await controller?.stop();
    },
  };
}

function pollerService(deps: DeviceServicesDeps): Service {
  return {
    name: "controller status poller",
    optional: true,
    async start() {
      const poller = new StatusPoller({
        controller: required(deps.parts, "controller", "the status poller"),
        log: deps.log.child({ part: "poller" }),
        clock: deps.clock ?? systemClock,
        timers: deps.timers ?? systemTimers,
        intervalMs: deps.config.controller.pollIntervalS * 1000,
        onEvent: (event) => {
          deps.recorder.record(event);
          // Brightness is not stored to flash: a controller back from a power cut (or a new one
          // in its place) is at its stored level until the schedule's target is sent again.
          if (event.type === "controller.recovered") void deps.parts.brightness?.reapply().catch(() => undefined);
        },
      });
      poller.start();
      deps.parts.poller = poller;
    },
    async stop() {
      const poller = deps.parts.poller;
      deps.parts.poller = null;
      await poller?.stop();
    },
  };
}

function brightnessService(deps: DeviceServicesDeps): Service {
  return {
    name: "brightness schedule",
    optional: true,
    async start() {
      const brightness = new BrightnessScheduler({
        controller: required(deps.parts, "controller", "the brightness schedule"),
        clock: deps.clock ?? systemClock,
        timers: deps.timers ?? systemTimers,
        log: deps.log.child({ part: "brightness" }),
        onEvent: (event) => deps.recorder.record(event),
      });
      // No windows yet: the stored schedule's arrive with the playout's start.
      await brightness.start();
      deps.parts.brightness = brightness;
    },
    async stop() {
      deps.parts.brightness?.stop();
      deps.parts.brightness = null;
    },
  };
}

/** The controller's services, in start order. */
export function deviceServices(deps: DeviceServicesDeps): Service[] {
  const link = controllerService(deps);
  if (deps.config.controller.driver === "none") return [link];
  return [link, pollerService(deps), brightnessService(deps)];
}
