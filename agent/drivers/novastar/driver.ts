// The NovaStar MCTRL/MSD driver: the Controller interface over a NovaStarLink.
import type { Logger } from "../../log.js";
import type { ByteTransport } from "../transport/types.js";
import { ControllerError, type Controller, type ControllerIdentity, type ControllerStatus, type FaultCode, type StateListener } from "../types.js";
import { ACK, ACK_MEANING, ALL_BOARDS, ALL_PORTS, DevType, hex, type Frame } from "./codec.js";
import { LinkError, NovaStarLink, type LinkEvent, type LinkOptions, type Target } from "./link.js";
import { decodeTemperature, KILL_BLACK, KILL_NORMAL, killToBlackout, modelName, patternName, PATTERNS, percentToRegister, REG, registerToPercent, type PatternName } from "./registers.js";

export interface CardAddress {
  port: number;
  board: number;
}

export interface NovaStarOptions {
  /** Sending unit in the daisy chain. */
  unit: number;
  /** Receiving cards whose state and temperature are read; the first one's brightness/blackout/pattern stand for the screen. */
  monitoredCards: CardAddress[];
  /** Receiving-card temperature above which `temperature.high` is raised. */
  temperatureLimitC: number;
  link: Partial<LinkOptions>;
}

export const DEFAULT_NOVASTAR_OPTIONS: NovaStarOptions = {
  unit: 0,
  monitoredCards: [{ port: 0, board: 0 }],
  temperatureLimitC: 75,
  link: {},
};

export interface NovaStarDeps {
  transport: ByteTransport;
  log: Logger;
  clock: { now(): number };
  options?: Partial<NovaStarOptions>;
  onLinkEvent?: (event: LinkEvent) => void;
}

const FAULT_OF_ACK: Record<number, FaultCode> = {
  [ACK.timeout]: "card.silent",
  [ACK.requestChecksum]: "card.checksum",
  [ACK.ackChecksum]: "card.checksum",
  [ACK.invalidCommand]: "card.invalid",
};

/** A read that did not give data: why, as a fault and a phrase. */
class ReadFailure {
  constructor(
    readonly fault: FaultCode,
    readonly message: string,
    readonly online: boolean,
  ) {}
}

export class NovaStarController implements Controller {
  readonly driver = "novastar";
  readonly port: string;
  readonly link: NovaStarLink;
  private readonly options: NovaStarOptions;
  private readonly listeners = new Set<StateListener>();
  private last: ControllerStatus | null = null;

  constructor(private readonly deps: NovaStarDeps) {
    this.options = { ...DEFAULT_NOVASTAR_OPTIONS, ...deps.options };
    this.port = deps.transport.url;
    this.link = new NovaStarLink({
      transport: deps.transport,
      log: deps.log,
      options: this.options.link,
      onEvent: (event) => this.onLinkEvent(event),
    });
  }

  async start(): Promise<void> {
    this.link.start();
  }

  async stop(): Promise<void> {
    await this.link.stop();
  }

  async probe(): Promise<ControllerIdentity> {
    const reply = await this.request(() => this.link.read(this.sendingCard(), REG.modelId, 2), "read the model id");
    this.checkAck(reply, "read the model id");
    // Firmware has no register in spec/novastar.md: reported as unknown rather than guessed.
    return { driver: this.driver, model: modelName(reply.data), modelId: hex(reply.data), firmware: null };
  }

  async status(): Promise<ControllerStatus> {
    const faults = new Set<FaultCode>();
    const details: string[] = [];
    const status: ControllerStatus = { online: true, brightness: null, blackout: null, pattern: null, temperatureC: null, faults: [], detail: "", confirmed: true, readAt: this.deps.clock.now() };
    const fail = (f: ReadFailure): void => {
      faults.add(f.fault);
      details.push(f.message);
      if (!f.online) status.online = false;
    };
    const [first, ...others] = this.options.monitoredCards;
    const brightness = await this.readCard(first, REG.brightness, 1);
    if (brightness instanceof ReadFailure) fail(brightness);
    else status.brightness = registerToPercent(brightness[0]);
    if (status.online) {
      const killAndPattern = await this.readCard(first, REG.kill, 2);
      if (killAndPattern instanceof ReadFailure) fail(killAndPattern);
      else {
        status.blackout = killToBlackout(killAndPattern[0]);
        status.pattern = patternName(killAndPattern[1]);
      }
    }
    for (const card of status.online ? [first, ...others] : []) {
      const block = await this.readCard(card, REG.monitor, 2);
      if (block instanceof ReadFailure) {
        fail(block);
        if (!status.online) break;
        continue;
      }
      const celsius = decodeTemperature(block);
      if (celsius === null) continue;
      if (status.temperatureC === null || celsius > status.temperatureC) status.temperatureC = celsius;
      if (celsius > this.options.temperatureLimitC) {
        faults.add("temperature.high");
        details.push(`port ${card.port} card ${card.board} at ${celsius} °C (limit ${this.options.temperatureLimitC} °C)`);
      }
    }
    status.faults = [...faults].sort();
    // Several reads of one card (brightness, kill, monitor) fail alike: each reason once.
    status.detail = [...new Set(details)].join("; ");
    this.publish(status);
    return status;
  }

  async setBrightness(percent: number): Promise<void> {
    let value: number;
    try {
      value = percentToRegister(percent);
    } catch (err) {
      throw new ControllerError((err as Error).message, "bad-input");
    }
    await this.writeAll(REG.brightness, Uint8Array.of(value), `set brightness to ${percent} %`);
    this.patchLast({ brightness: registerToPercent(value) });
  }

  async setBlackout(on: boolean): Promise<void> {
    await this.writeAll(REG.kill, Uint8Array.of(on ? KILL_BLACK : KILL_NORMAL), on ? "black the screen out" : "end the blackout");
    this.patchLast({ blackout: on });
  }

  async setPattern(name: PatternName): Promise<void> {
    if (!Object.hasOwn(PATTERNS, name)) throw new ControllerError(`unknown test pattern ${JSON.stringify(name)} (known: ${Object.keys(PATTERNS).join(", ")})`, "bad-input");
    await this.writeAll(REG.pattern, Uint8Array.of(PATTERNS[name]), name === "off" ? "turn the test pattern off" : `show the ${name} test pattern`);
    this.patchLast({ pattern: name });
  }

  /** Makes the current receiving-card parameters survive a power cycle. Not in the interface: NovaStar-only, and flash wears. */
  async storeToFlash(): Promise<void> {
    await this.writeAll(REG.storeToFlash, Uint8Array.of(0x01), "store parameters to flash");
  }

  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private sendingCard(): Target {
    return { unit: this.options.unit, devType: DevType.SendingCard, port: 0, board: 0 };
  }

  private async writeAll(address: number, data: Uint8Array, what: string): Promise<void> {
    const target = { unit: this.options.unit, devType: DevType.ReceivingCard, port: ALL_PORTS, board: ALL_BOARDS };
    const reply = await this.request(() => this.link.write(target, address, data), what);
    if (reply) this.checkAck(reply, what);
  }

  private async request<T>(send: () => Promise<T>, what: string): Promise<T> {
    try {
      return await send();
    } catch (err) {
      if (err instanceof LinkError) {
        throw new ControllerError(`cannot ${what}: ${err.message}`, err.reason === "timeout" ? "timeout" : err.reason === "stopped" ? "stopped" : "link");
      }
      throw err;
    }
  }

  private checkAck(reply: Frame, what: string): void {
    if (reply.ack !== ACK.ok) throw new ControllerError(`cannot ${what}: ${ACK_MEANING[reply.ack] ?? `unknown ack ${reply.ack}`}`, "ack");
  }

  private async readCard(card: CardAddress, address: number, length: number): Promise<Uint8Array | ReadFailure> {
    const where = `port ${card.port} card ${card.board}`;
    try {
      const reply = await this.link.read({ unit: this.options.unit, devType: DevType.ReceivingCard, port: card.port, board: card.board }, address, length);
      if (reply.ack !== ACK.ok) return new ReadFailure(FAULT_OF_ACK[reply.ack] ?? "card.invalid", `${where}: ${ACK_MEANING[reply.ack] ?? `unknown ack ${reply.ack}`}`, true);
      if (reply.data.length < length) return new ReadFailure("card.invalid", `${where}: reply carried ${reply.data.length} of ${length} bytes`, true);
      return reply.data;
    } catch (err) {
      if (err instanceof LinkError && err.reason === "timeout") return new ReadFailure("link.timeout", err.message, false);
      return new ReadFailure("link.down", (err as Error).message, false);
    }
  }

  /**
   * The last status with a written value put in, for listeners that want the change at once. The
   * ack says the cards took the write, not what the screen shows, so it is unconfirmed until the
   * next read, and keeps that last read's time: it is no fresher than what it was built on.
   */
  private patchLast(patch: Partial<ControllerStatus>): void {
    const base: ControllerStatus = this.last ?? { online: true, brightness: null, blackout: null, pattern: null, temperatureC: null, faults: [], detail: "", confirmed: false, readAt: 0 };
    this.publish({ ...base, ...patch, online: true, confirmed: false });
  }

  private onLinkEvent(event: LinkEvent): void {
    if (event.type === "disconnected") {
      this.publish({ online: false, brightness: null, blackout: null, pattern: null, temperatureC: null, faults: ["link.down"], detail: `${event.url}: ${event.reason}`, confirmed: true, readAt: this.deps.clock.now() });
    }
    this.deps.onLinkEvent?.(event);
  }

  private publish(status: ControllerStatus): void {
    this.last = status;
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.deps.log.error({ err }, "controller state listener threw");
      }
    }
  }
}
