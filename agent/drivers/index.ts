// The drivers part's front door: build the configured controller; everything else is types.
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { NovaStarController, type NovaStarOptions } from "./novastar/driver.js";
import type { LinkEvent } from "./novastar/link.js";
import { NoneController } from "./none.js";
import { systemClock, type Clock } from "./timers.js";
import { transportFor } from "./transport/url.js";
import type { Controller } from "./types.js";

export * from "./types.js";
export { StatusPoller, type ControllerEvent } from "./poller.js";
export { BrightnessScheduler, brightnessAt, parseBrightnessWindows, type BrightnessEvent, type BrightnessWindow } from "./brightness-schedule.js";
export { PATTERN_NAMES, isPatternName } from "./novastar/registers.js";

export interface ControllerDeps {
  log: Logger;
  clock?: Clock;
  /** Overrides for the NovaStar driver (retries, monitored cards, temperature limit). */
  novastar?: Partial<NovaStarOptions>;
  onLinkEvent?: (event: LinkEvent) => void;
}

/** The controller `config.controller` describes; throws TransportError for a bad port URL. */
export function createController(config: Config["controller"], deps: ControllerDeps): Controller {
  const clock = deps.clock ?? systemClock;
  if (config.driver === "none" || config.port === undefined) return new NoneController({ clock });
  const transport = transportFor(config.port, { connectTimeoutMs: Math.max(config.timeoutMs, 1000) });
  const options: Partial<NovaStarOptions> = {
    unit: config.unit,
    monitoredCards: config.monitoredCards,
    temperatureLimitC: config.temperatureLimitC,
    ...deps.novastar,
    link: { timeoutMs: config.timeoutMs, ...deps.novastar?.link },
  };
  return new NovaStarController({ transport, log: deps.log.child({ part: "drivers", driver: "novastar" }), clock, options, onLinkEvent: deps.onLinkEvent });
}
