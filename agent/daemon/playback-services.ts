// What plays: the creatives pipeline, the schedule in force (and the loader that replaces it),
// and the playout on mpv. All essential: without them the screen shows nothing it was sold for.
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { agentPaths } from "../paths.js";
import { CreativePipeline, resolveMediaTools } from "../playback/creatives/index.js";
import { Player } from "../playback/player/index.js";
import { Playout } from "../playback/playout/index.js";
import { loadOpsPublicKey, ScheduleStore, type CurrentSchedule } from "../playback/schedule/index.js";
import { openDatabase, type Db } from "../store/index.js";
import { required, type DaemonParts } from "./parts.js";
import { DaemonScheduleLoader, scheduleInForce, type ScheduleInForceHooks } from "./schedule-loader.js";
import type { Service } from "./services.js";

/** Transcodes run at the lowest CPU priority: the player decoding the screen's video comes first. */
export const DAEMON_TRANSCODE_NICENESS = 19;

export interface PlaybackServicesDeps {
  config: Config;
  log: Logger;
  parts: DaemonParts;
  env: NodeJS.ProcessEnv;
}

/** `MPV_PATH`, else `mpv` as found on PATH when it is started. */
export function mpvPath(env: NodeJS.ProcessEnv): string {
  return env.MPV_PATH || "mpv";
}

function creativesService(deps: PlaybackServicesDeps): Service {
  let db: Db | null = null;
  return {
    name: "creatives",
    async start() {
      const paths = agentPaths(deps.config);
      const tools = resolveMediaTools({ env: deps.env });
      for (const tool of [tools.ffmpeg, tools.ffprobe]) {
        // Cached renditions still play; new creatives fail with the reason until it is installed.
        if (!tool.found) deps.log.error({ tool: tool.path, source: tool.source }, "not found: creatives cannot be prepared (install ffmpeg or set FFMPEG_PATH / FFPROBE_PATH)");
      }
      db = openDatabase(paths.database);
      const log = deps.log.child({ part: "creatives" });
      deps.parts.creatives = new CreativePipeline({ config: deps.config, db, creativesDir: paths.creativesDir, tools, log, niceness: DAEMON_TRANSCODE_NICENESS });
    },
    async stop() {
      deps.parts.creatives = null;
      db?.close();
      db = null;
    },
  };
}

function hooks(deps: PlaybackServicesDeps): ScheduleInForceHooks {
  return { brightness: () => deps.parts.brightness, playout: () => deps.parts.playout, log: deps.log.child({ part: "schedule" }) };
}

function scheduleService(deps: PlaybackServicesDeps): Service {
  return {
    name: "schedule",
    async start() {
      const { config } = deps;
      const store = new ScheduleStore({ path: agentPaths(config).scheduleFile });
      deps.parts.schedules = store;
      deps.parts.scheduleLoader = new DaemonScheduleLoader({
        // The ops key is read at each apply, as a trusted file: a key fixed on disk takes effect
        // without a restart, and a bad one fails that apply with its reason, not the daemon.
        apply: () => ({
          store,
          opsPublicKey: loadOpsPublicKey(config),
          screenId: config.screenId,
          ledger: required(deps.parts, "ledger", "a schedule apply"),
          now: () => new Date(),
        }),
        hooks: hooks(deps),
      });
    },
    async stop() {
      deps.parts.scheduleLoader = null;
      deps.parts.schedules = null;
    },
  };
}

/** The stored schedule, or null when there is none or it cannot be read (said in the log: nothing plays from it). */
function storedSchedule(store: ScheduleStore, log: Logger): CurrentSchedule | null {
  try {
    return store.current();
  } catch (err) {
    log.error({ err }, "the stored schedule cannot be read: nothing plays from it until a new one is loaded");
    return null;
  }
}

function playoutService(deps: PlaybackServicesDeps): Service {
  return {
    name: "playout",
    async start() {
      const { config, parts } = deps;
      const log = deps.log.child({ part: "playout" });
      const player = new Player({
        mpvPath: mpvPath(deps.env),
        runDir: config.runDir,
        panel: { width: config.panel.width, height: config.panel.height },
        output: config.player.output,
        headless: config.player.headless,
        audio: config.creatives.audio,
        log: deps.log.child({ part: "player" }),
      });
      const schedules = required(parts, "schedules", "the playout");
      const playout = new Playout({
        screenId: config.screenId,
        controllerConfigured: config.controller.driver !== "none",
        ledger: required(parts, "ledger", "the playout"),
        schedules,
        player,
        creatives: required(parts, "creatives", "the playout"),
        screen: parts.poller,
        runDir: config.runDir,
        log,
      });
      playout.on("play", (entry) => log.info({ seq: entry.seq, campaign: entry.play.campaign, creative: entry.play.creative, status: entry.play.status }, "play recorded"));
      try {
        await playout.start();
      } catch (err) {
        // Not started, so never stopped by the stack: mpv must not outlive the failed start.
        await player.close().catch(() => undefined);
        throw err;
      }
      parts.playout = playout;
      // The schedule that was in force when the agent last ran is in force again, offline or not.
      const stored = storedSchedule(schedules, log);
      if (stored) scheduleInForce(stored.document, hooks(deps));
    },
    async stop() {
      const playout = deps.parts.playout;
      deps.parts.playout = null;
      // Records what plays as interrupted; resolves when every record is written.
      await playout?.stop();
    },
  };
}

/** The playback services, in start order. */
export function playbackServices(deps: PlaybackServicesDeps): Service[] {
  return [creativesService(deps), scheduleService(deps), playoutService(deps)];
}
