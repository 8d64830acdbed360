// Test helpers for the drivers area: a simulator on a free TCP port, a driver pointed at it.
import { silentLogger } from "../../agent/log.js";
import { NovaStarController, type NovaStarOptions } from "../../agent/drivers/novastar/driver.js";
import type { LinkEvent } from "../../agent/drivers/novastar/link.js";
import { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { transportFor } from "../../agent/drivers/transport/url.js";

export async function tcpSimulator(port = 0): Promise<{ sim: NovaStarSimulator; url: string }> {
  const sim = new NovaStarSimulator({ log: silentLogger() });
  const url = await sim.listenTcp("127.0.0.1", port);
  return { sim, url };
}

export function driverFor(url: string, options: Partial<NovaStarOptions> = {}): { controller: NovaStarController; events: LinkEvent[] } {
  const events: LinkEvent[] = [];
  const controller = new NovaStarController({
    transport: transportFor(url),
    log: silentLogger(),
    clock: { now: () => Date.now() },
    options: { ...options, link: { timeoutMs: 400, retries: 1, reconnectInitialMs: 50, reconnectMaxMs: 200, ...options.link } },
    onLinkEvent: (e) => events.push(e),
  });
  return { controller, events };
}

export async function waitFor(check: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
