// The daemon's word to systemd (the shipped unit is Type=notify with a watchdog): READY once every
// service has started, a STATUS line that says what plays, a watchdog ping only while the playout
// is progressing (playout/progress.ts), and STOPPING when the stop begins. Started last, so it is
// stopped first. Outside systemd (no $NOTIFY_SOCKET) it does nothing.
import type { PlayoutStatus } from "../commands/index.js";
import type { Logger } from "../log.js";
import type { PlayoutProgress } from "../playback/playout/progress.js";
import type { DaemonParts } from "./parts.js";
import type { Service } from "./services.js";
import { notifyTargetFromEnv, openNotifier, type Notifier, type NotifyTarget } from "./systemd-notify.js";

export interface SystemdServiceDeps {
  parts: DaemonParts;
  log: Logger;
  env: NodeJS.ProcessEnv;
  pid: number;
  /** A test's stand-in for the datagram socket. */
  openNotifier?: (target: NotifyTarget) => Notifier;
}

/** Checks per watchdog period: systemd's own advice is to ping at half of it; a third leaves room for one slow check. */
const CHECKS_PER_PERIOD = 3;

export function systemdService(deps: SystemdServiceDeps): Service {
  const log = deps.log.child({ part: "systemd" });
  let notifier: Notifier | null = null;
  let timer: NodeJS.Timeout | null = null;
  let lastWhy: string | null = null;
  let beating: Promise<void> = Promise.resolve();

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
    if (feedWatchdog && progress.ok) fields.WATCHDOG = "1";
    await notifier.send(fields).catch((err: unknown) => log.warn({ err }, "systemd notification not sent"));
  };

  return {
    name: "systemd notification",
    optional: true,
    async start() {
      const target = notifyTargetFromEnv(deps.env, deps.pid);
      if (!target) return;
      notifier = (deps.openNotifier ?? openNotifier)(target);
      await notifier.send({ READY: "1" });
      await beat(target.watchdogMs !== null);
      const every = target.watchdogMs ? Math.max(500, Math.floor(target.watchdogMs / CHECKS_PER_PERIOD)) : 10_000;
      // One check at a time: a slow mpv answer must not pile up questions behind it.
      timer = setInterval(() => {
        beating = beating.then(() => beat(target.watchdogMs !== null));
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
