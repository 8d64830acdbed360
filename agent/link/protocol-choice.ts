// Which MQTT version the next connection attempt speaks. MQTT 5 first; 3.1.1 for good only when
// the broker itself refuses 5 (CONNACK 1 from a 3.1.1 broker, 132 from a 5 one); for one attempt
// only after two closes before any CONNACK, which may be a load balancer restarting or a man in
// the middle, who must not talk the agent down for good (3.1.1 loses the response topic and the
// packet size cap). Once the broker accepted 5 in this process, nothing falls back.

/** How an attempt ended, as far as the choice cares. */
export interface AttemptEnd {
  protocolVersion: 4 | 5;
  /** A CONNACK arrived (accepting or refusing). */
  connack: boolean;
  /** The CONNACK's refusal code, or null. */
  refusal: number | null;
  /** The transport (TCP, TLS) was up. */
  transportUp: boolean;
  /** A failure the agent itself noted (TLS, timeout …), or null for a plain close. */
  failure: string | null;
}

export type FallBack = { to: 4; forGood: boolean; why: string } | null;

export const SILENT_CLOSES_BEFORE_FALLBACK = 2;

export class ProtocolChoice {
  private version: 4 | 5 = 5;
  private silentCloses = 0;
  private spokeFive = false;
  private fourForGood = false;

  /** The version of the next attempt. */
  get next(): 4 | 5 {
    return this.version;
  }

  /** A CONNACK that accepted the attempt. */
  accepted(version: 4 | 5): void {
    this.silentCloses = 0;
    if (version === 5) this.spokeFive = true;
  }

  /** An attempt (or a connection) ended: whether the next one falls back, and why. */
  ended(end: AttemptEnd, reason: string): FallBack {
    if (end.protocolVersion === 4 && !this.fourForGood) this.version = 5;
    if (end.protocolVersion !== 5 || this.spokeFive || (end.connack && end.refusal === null)) return null;
    if (end.refusal === 1 || end.refusal === 132) {
      this.version = 4;
      this.fourForGood = true;
      return { to: 4, forGood: true, why: reason };
    }
    this.silentCloses = end.transportUp && end.failure === null ? this.silentCloses + 1 : 0;
    if (this.silentCloses < SILENT_CLOSES_BEFORE_FALLBACK) return null;
    this.silentCloses = 0;
    this.version = 4;
    return { to: 4, forGood: false, why: `the broker closed the connection before any CONNACK on ${SILENT_CLOSES_BEFORE_FALLBACK} MQTT 5 attempts in a row` };
  }
}
