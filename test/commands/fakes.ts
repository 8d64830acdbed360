// Fakes for the parts a command reaches: they record what they were asked and answer plainly.
import type { ControllerIdentity, ControllerStatus, PatternName, StateListener } from "../../agent/drivers/types.js";
import { ControllerError, type Controller } from "../../agent/drivers/types.js";
import type {
  CommandOrigin,
  LiveSuspension,
  LiveTakedown,
  PlayerPatternName,
  PlayoutControl,
  PlayoutStatus,
  SuspendOrder,
  TakedownOrder,
  TakedownTarget,
} from "../../agent/commands/index.js";

/** The instant the tests' clock (and the fixture ledger's) reads. */
export const NOW = Date.parse("2026-12-01T00:00:00Z");

export class FakeController implements Controller {
  readonly driver = "fake";
  readonly port = "tcp://127.0.0.1:5200";
  readonly calls: string[] = [];
  /** Set to make every write fail with this reason. */
  failWith: ControllerError["reason"] | null = null;
  brightness = 80;
  blackout = false;

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async probe(): Promise<ControllerIdentity> {
    return { driver: "fake", model: "MCTRL600 family", modelId: "01 11", firmware: null };
  }
  async status(): Promise<ControllerStatus> {
    return { online: true, brightness: this.brightness, blackout: this.blackout, pattern: "off", temperatureC: 31, faults: [], detail: "", confirmed: true, readAt: NOW };
  }
  private write(what: string): void {
    this.calls.push(what);
    if (this.failWith) throw new ControllerError(`${what}: ${this.failWith}`, this.failWith);
  }
  async setBrightness(percent: number): Promise<void> {
    this.write(`brightness ${percent}`);
    this.brightness = percent;
  }
  async setBlackout(on: boolean): Promise<void> {
    this.write(`blackout ${on}`);
    this.blackout = on;
  }
  async setPattern(name: PatternName): Promise<void> {
    this.write(`pattern ${name}`);
  }
  onState(_listener: StateListener): () => void {
    return () => undefined;
  }
}

/** A refusal as a real playout would throw it: any error carrying one of the part codes. */
export function refusal(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class FakePlayout implements PlayoutControl {
  readonly calls: Array<{ op: string; arg?: unknown; origin?: CommandOrigin }> = [];
  suspension: LiveSuspension | null = null;
  takedowns: LiveTakedown[] = [];
  jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
  /** Resolves when released, to hold a command in flight. */
  gate: Promise<void> | null = null;

  private async enter(op: string, arg?: unknown, origin?: CommandOrigin): Promise<void> {
    this.calls.push({ op, arg, origin });
    if (this.gate) await this.gate;
  }

  async status(): Promise<PlayoutStatus> {
    return { scheduleVersion: 7, nowPlaying: null, next: null, suspension: this.suspension, takedowns: this.takedowns };
  }
  async suspend(order: SuspendOrder): Promise<LiveSuspension> {
    await this.enter("suspend", order, order.origin);
    this.suspension = { reason: order.reason, until: order.until, campaigns: order.campaigns, blackout: order.blackout, since: new Date(NOW).toISOString() };
    return this.suspension;
  }
  async resume(origin: CommandOrigin): Promise<{ suspendedFor: number }> {
    await this.enter("resume", undefined, origin);
    if (!this.suspension) throw refusal("not-suspended", "no live suspension to resume");
    this.suspension = null;
    return { suspendedFor: 0 };
  }
  async takedown(order: TakedownOrder): Promise<LiveTakedown> {
    await this.enter("takedown", order, order.origin);
    const t = order.target;
    const takedown = { campaign: "campaign" in t ? t.campaign : null, creative: "creative" in t ? t.creative : null, since: new Date(NOW).toISOString() };
    this.takedowns.push(takedown);
    return takedown;
  }
  async liftTakedown(target: TakedownTarget, origin: CommandOrigin): Promise<void> {
    await this.enter("lift", target, origin);
    const before = this.takedowns.length;
    this.takedowns = this.takedowns.filter((t) => !("campaign" in target ? t.campaign === target.campaign : t.creative === target.creative));
    if (this.takedowns.length === before) throw refusal("not-found", "no takedown of that to lift");
  }
  async playNow(creative: string, times: number, origin: CommandOrigin): Promise<{ queued: number }> {
    await this.enter("playNow", { creative, times }, origin);
    if (creative === "unapproved") throw refusal("not-approved", `${creative} has not passed review`);
    return { queued: times };
  }
  async testPlay(file: string, times: number, origin: CommandOrigin): Promise<{ queued: number }> {
    await this.enter("testPlay", { file, times }, origin);
    return { queued: times };
  }
  async showPattern(name: PlayerPatternName, seconds: number, origin: CommandOrigin): Promise<void> {
    await this.enter("showPattern", { name, seconds }, origin);
  }
  async screenshot(): Promise<Buffer> {
    await this.enter("screenshot");
    return this.jpeg;
  }
}
