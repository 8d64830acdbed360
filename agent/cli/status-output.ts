// `ledagent status` for people: what is on the screen, what comes next, the schedule, the
// controller, the live orders and the ledger, one line each. Times in the configured zone.
import type { AgentStatus, ControllerStatus, LiveSuspension, LiveTakedown, NowPlaying, PlayoutStatus } from "../commands/index.js";
import { localTime } from "./common.js";

const LABEL_WIDTH = 12;

function what(item: { campaign: string | null; creative: string }): string {
  return item.campaign === null ? item.creative : `${item.campaign} / ${item.creative}`;
}

function onScreen(now: NowPlaying | null, zone: string): string {
  if (!now) return "nothing";
  const kind = now.test ? " (technician's test)" : now.makeGood ? " (make-good)" : "";
  return `${what(now)}${kind} since ${localTime(now.since, zone)}`;
}

function controllerLine(c: ControllerStatus | null): string {
  if (!c) return "not running";
  if (!c.online) return `offline${c.detail ? `: ${c.detail}` : ""}`;
  const parts = [
    "online",
    `brightness ${c.brightness === null ? "unknown" : `${c.brightness} %`}`,
    `blackout ${c.blackout === null ? "unknown" : c.blackout ? "on" : "off"}`,
    ...(c.pattern && c.pattern !== "off" ? [`test pattern ${c.pattern}`] : []),
    ...(c.temperatureC === null ? [] : [`${c.temperatureC} °C`]),
    c.faults.length === 0 ? "no faults" : `faults ${c.faults.join(", ")} (${c.detail})`,
    // A value just written is what the controller acknowledged, not what a read has shown.
    ...(c.confirmed ? [] : ["as written (not yet read back)"]),
  ];
  return parts.join(", ");
}

function suspensionLine(s: LiveSuspension, zone: string): string {
  const scope = s.campaigns === null ? "the whole screen" : `campaigns ${s.campaigns.join(", ")}`;
  const until = s.until === null ? "until resumed" : `until ${localTime(s.until, zone)}`;
  return `${scope} since ${localTime(s.since, zone)}, ${until}${s.blackout ? ", blacked out" : ""}: ${s.reason}`;
}

function takedownLine(t: LiveTakedown, zone: string): string {
  const target = t.campaign !== null ? `campaign ${t.campaign}` : `creative ${t.creative ?? "?"}`;
  return `${target} since ${localTime(t.since, zone)}`;
}

function playoutLines(p: PlayoutStatus | null, zone: string): Array<[string, string]> {
  if (!p) return [["on screen", "unknown: the playout is not running"]];
  const rows: Array<[string, string]> = [
    ["on screen", onScreen(p.nowPlaying, zone)],
    ["next", p.next ? `${what(p.next)} at ${localTime(p.next.at, zone)}` : "nothing planned"],
    ["schedule", p.scheduleVersion === null ? "none loaded" : `v${p.scheduleVersion}`],
    ["suspended", p.suspension ? suspensionLine(p.suspension, zone) : "no"],
  ];
  if (p.takedowns.length === 0) rows.push(["taken down", "nothing"]);
  for (const [i, t] of p.takedowns.entries()) rows.push([i === 0 ? "taken down" : "", takedownLine(t, zone)]);
  return rows;
}

function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min ${seconds % 60} s`;
}

function syncLine(sync: AgentStatus["sync"], host: AgentStatus["host"]): string {
  if (!sync) return "not synced: no MQTT link runs";
  const link = host?.linkConnected === false ? "link down" : "link connected";
  const flight = sync.inFlight ? `, batch ${sync.inFlight.fromSeq}–${sync.inFlight.throughSeq} in flight` : "";
  return `${link}, collector acked through seq ${sync.ackedThrough}, ${sync.unsynced} waiting${flight}`;
}

function hostLine(host: NonNullable<AgentStatus["host"]>): string {
  const free = host.diskFreeBytes === null ? "disk free unknown" : `${(host.diskFreeBytes / 1024 ** 3).toFixed(1)} GiB free`;
  return `${free}, clock ${host.clockSynced ? "synchronised" : "NOT synchronised"}`;
}

/** The status as aligned lines, without a trailing newline. */
export function statusText(status: AgentStatus, zone: string): string {
  const rows: Array<[string, string]> = [
    ...playoutLines(status.playout, zone),
    ["controller", controllerLine(status.controller)],
    ["ledger", status.ledger === null ? "not open" : status.ledger.headSeq === null ? "empty" : `head seq ${status.ledger.headSeq}`],
    ["proofs", syncLine(status.sync, status.host)],
    ...(status.host ? [["host", hostLine(status.host)] as [string, string]] : []),
    ["agent", `up ${uptime(status.process.uptimeS)}, ${Math.round(status.process.rssBytes / 1024 / 1024)} MiB, as of ${localTime(status.at, zone)}`],
  ];
  return rows.map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}${value}`).join("\n");
}
