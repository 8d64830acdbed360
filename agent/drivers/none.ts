// The `none` driver: for screens whose controller has no link to this PC. Reads report an
// unverified screen; writes fail with a reason rather than pretending to have worked.
import { ControllerError, type Controller, type ControllerIdentity, type ControllerStatus, type StateListener } from "./types.js";

export class NoneController implements Controller {
  readonly driver = "none";
  readonly port = null;
  private readonly listeners = new Set<StateListener>();

  constructor(private readonly deps: { clock: { now(): number } } = { clock: Date }) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async probe(): Promise<ControllerIdentity> {
    return { driver: "none", model: "no controller link", modelId: null, firmware: null };
  }

  async status(): Promise<ControllerStatus> {
    const status: ControllerStatus = { online: false, brightness: null, blackout: null, pattern: null, temperatureC: null, faults: [], detail: "no controller configured", confirmed: true, readAt: this.deps.clock.now() };
    for (const l of this.listeners) l(status);
    return status;
  }

  private unsupported(what: string): never {
    throw new ControllerError(`cannot ${what}: no controller configured (controller.driver is none)`, "unsupported");
  }

  async setBrightness(): Promise<void> {
    this.unsupported("set brightness");
  }

  async setBlackout(): Promise<void> {
    this.unsupported("set blackout");
  }

  async setPattern(): Promise<void> {
    this.unsupported("show a test pattern");
  }

  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
