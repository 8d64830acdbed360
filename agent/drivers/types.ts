// What the rest of the agent knows about an LED controller: this interface and nothing below it.
// A driver (novastar, none, later huidu/colorlight) implements it; playback and ops use only it.
import type { PatternName } from "./novastar/registers.js";

export type { PatternName };

export interface ControllerIdentity {
  driver: string;
  /** Human name of the model, e.g. "MCTRL600 family". */
  model: string;
  /** The model id as the controller reported it (driver-specific notation), or null. */
  modelId: string | null;
  /** Firmware version, or null when the driver has no documented way to read it. */
  firmware: string | null;
}

/**
 * Fault codes. Stable strings: they travel in events and telemetry.
 * - link.down: the transport is not connected (port missing, TCP refused …)
 * - link.timeout: the controller did not answer a status read in time
 * - card.silent: the sending card answered but a receiving card did not (NovaStar ack 01)
 * - card.checksum: the controller reported a checksum error on the way (ack 02 / 03)
 * - card.invalid: the controller rejected a status read as an invalid command (ack 04)
 * - temperature.high: a receiving card is above the configured limit
 */
export type FaultCode = "link.down" | "link.timeout" | "card.silent" | "card.checksum" | "card.invalid" | "temperature.high";

export interface ControllerStatus {
  /** The controller answered this status read. */
  online: boolean;
  /** 0..100, or null when it could not be read. */
  brightness: number | null;
  blackout: boolean | null;
  /** "off" is normal video; null when unknown (or a value the driver has no name for). */
  pattern: PatternName | null;
  /** Hottest monitored receiving card, °C, or null when none reported a valid reading. */
  temperatureC: number | null;
  faults: FaultCode[];
  /** One line for people: why each fault is there. Empty when there are none. */
  detail: string;
  /**
   * False when the driver assumed these values after a write it did not read back: the write was
   * acknowledged, but what the screen shows is what was asked for, not what the controller
   * reported. True for everything observed: a status read, a link found down, no controller at
   * all. Only a confirmed status can vouch for a proof (screenStateOf).
   */
  confirmed: boolean;
  /**
   * Wall clock (UTC ms) of the read. An unconfirmed status keeps the time of the read it was built
   * on (0 when there was none), so its age is never that of the write.
   */
  readAt: number;
}

/** The stamp playback puts on each proof (spec/proof-format.md, `screenState`). */
export interface ScreenState {
  verified: boolean;
  online: boolean;
  brightness: number | null;
  blackout: boolean | null;
}

export type StateListener = (status: ControllerStatus) => void;

export interface Controller {
  readonly driver: string;
  /** The configured port URL, or null for the `none` driver. */
  readonly port: string | null;
  /** Opens the link; never rejects for an unreachable controller (the link keeps retrying). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Throws ControllerError when the controller cannot be reached or answers with an error. */
  probe(): Promise<ControllerIdentity>;
  /** Never throws: an unreachable controller is a status with online false and faults. */
  status(): Promise<ControllerStatus>;
  setBrightness(percent: number): Promise<void>;
  setBlackout(on: boolean): Promise<void>;
  setPattern(name: PatternName): Promise<void>;
  /** Every status read, and every acknowledged write (as an unconfirmed status); returns the unsubscribe function. */
  onState(listener: StateListener): () => void;
}

/** A controller operation failed; `reason` is a short machine-readable cause. */
export class ControllerError extends Error {
  constructor(
    message: string,
    readonly reason: "unsupported" | "timeout" | "link" | "ack" | "bad-input" | "stopped",
  ) {
    super(message);
    this.name = "ControllerError";
  }
}

export const UNVERIFIED_SCREEN: ScreenState = Object.freeze({ verified: false, online: false, brightness: null, blackout: null });

/** A status read becomes a proof stamp: verified only when online and both values were read, not assumed. */
export function screenStateOf(status: ControllerStatus): ScreenState {
  const verified = status.confirmed && status.online && status.brightness !== null && status.blackout !== null;
  return { verified, online: status.online, brightness: status.brightness, blackout: status.blackout };
}
