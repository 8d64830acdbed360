// The daemon's word to systemd (the shipped unit is Type=notify with a watchdog): READY once every
// service has started, a STATUS line that says what plays, a watchdog ping only while the playout
// is progressing (playout/progress.ts), and STOPPING when the stop begins. Started last, so it is
// stopped first. Outside systemd (no $NOTIFY_SOCKET) it does nothing.
import type { PlayoutStatus } from "../commands/index.js";
import type { Logger } from "../log.js";
import type { PlayoutProgress } from "../playback/playout/progress.js";
import type { DaemonParts } from "./parts.js";
import type { Service } from "./services.js";
import { openNotifier, type Notifier, type NotifyTarget } from "./systemd-notify.js";

export interface SystemdServiceDeps {
  parts: DaemonParts;
  log: Logger;
  /** Where systemd listens (takeNotifyTarget, read before any child starts); null outside systemd. */
  target: NotifyTarget | null;
  /** A test's stand-in for the datagram socket. */
  openNotifier?: (target: NotifyTarget) => Notifier;
}

/** Checks per watchdog period: systemd's own advice is to ping at half of it; a third leaves room for one slow check. */
const CHECKS_PER_PERIOD = 3;
/** Without a watchdog (or a very long one), the STATUS line is still kept fresh this often. */
const MAX_CHECK_EVERY_MS = 10_000;

export function systemdService(deps: SystemdServiceDeps): Service {
  const log = deps.log.child({ part: "systemd" });
  let notifier: Notifier | null = null;
  let timer: NodeJS.Timeout | null = null;
  let lastWhy: string | null = null;
  let beating: Promise<void> | null = null;
  let ready = false;

  const beat = async (feedWatchdog: boolean): Promise<void> => {
    if (!notifier) return;
    const progress: PlayoutProgress = deps.parts.playout ? await deps.parts.playout.progress() : { ok: false, why: "the playout is not running" };
    const status = deps.parts.playout ? await deps.parts.playout.status().catch(() => null) : null;
    const why = progress.ok ? null : progress.why;
    if (why !== lastWhy) {
      if (why) log.error({ why }, "the playout is not progressing: systemd's watchdog is no longer fed");
      else if (lastWhy) log.info("the playout is progressing again: feeding systemd's watchdog");
      lastWhy = why;
    }
    const fields: Record<string, string> = { STATUS: statusLine(status, why) };
    // READY until systemd has it: a send that failed once is tried again with the next check.
    if (!ready) fields.READY = "1";
    if (feedWatchdog && progress.ok) fields.WATCHDOG = "1";
    try {
      await notifier.send(fields);
      ready = true;
    } catch (err) {
      log.warn({ err }, "systemd notification not sent");
    }
  };

  return {
    name: "systemd notification",
    optional: true,
    async start() {
      const target = deps.target;
      if (!target) return;
      notifier = (deps.openNotifier ?? openNotifier)(target);
      const feed = target.watchdogMs !== null;
      await beat(feed);
      const every = Math.min(MAX_CHECK_EVERY_MS, Math.max(500, Math.floor((target.watchdogMs ?? MAX_CHECK_EVERY_MS) / CHECKS_PER_PERIOD)));
      // One check at a time, none queued: a check still waiting on a slow mpv answer makes the
      // next tick pass, so a thawed mpv is not answered with a burst of pings.
      timer = setInterval(() => {
        if (beating) return;
        beating = beat(feed).finally(() => (beating = null));
      }, every);
      log.info({ watchdogMs: target.watchdogMs, checkEveryMs: every }, "told systemd the agent is ready");
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      const n = notifier;
      notifier = null;
      if (!n) return;
      await beating;
      await n.send({ STOPPING: "1", STATUS: "stopping" }).catch(() => undefined);
      n.close();
    },
  };
}

/** What `systemctl status ledagent` shows on its Status: line. */
export function statusLine(status: PlayoutStatus | null, notProgressing: string | null): string {
  const parts: string[] = [];
  if (notProgressing) parts.push(`not progressing: ${notProgressing}`);
  if (status) {
    const now = status.nowPlaying;
    if (status.suspension) parts.push(`suspended (${status.suspension.reason})`);
    if (now) parts.push(now.campaign ? `playing ${now.creative} (${now.campaign})` : `playing house content ${now.creative}`);
    else if (!status.suspension) parts.push("nothing on screen");
    parts.push(status.scheduleVersion === null ? "no schedule" : `schedule v${status.scheduleVersion}`);
  }
  return parts.join(" · ") || "running";
}
