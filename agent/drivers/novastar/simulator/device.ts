// A simulated NovaStar sending unit chain: a register store per (unit, devType, port, board),
// the documented error acks, silence for missing units, and RAM that a power cycle loses unless
// it was stored to flash. Pure: one request frame in, one reply frame (or silence) out.
import { ACK, ALL_BOARDS, ALL_PORTS, ALL_UNITS, Code, DevType, type Frame } from "../codec.js";
import { encodeTemperature, REG } from "../registers.js";

export interface SimulatedUnit {
  /** Two wire bytes, e.g. [0x01, 0x11] for the MCTRL600 family. */
  modelId: [number, number];
  ports: number;
  cardsPerPort: number;
}

export interface DeviceSetup {
  units: SimulatedUnit[];
  /** Receiving-card temperature at power-on, °C. */
  temperatureC: number;
}

export const DEFAULT_SETUP: DeviceSetup = {
  units: [{ modelId: [0x01, 0x11], ports: 2, cardsPerPort: 4 }],
  temperatureC: 38.5,
};

type Access = "rw" | "ro" | "wo";
interface Range {
  start: number;
  end: number;
  access: Access;
}

// What each device type answers to; anything else is ack 04 (invalid command).
const RECEIVING_CARD_RANGES: Range[] = [
  { start: REG.brightness, end: REG.brightness + 5, access: "rw" },
  { start: REG.kill, end: REG.pattern + 1, access: "rw" },
  { start: REG.monitor, end: REG.monitor + 2, access: "ro" },
  { start: REG.storeToFlash, end: REG.storeToFlash + 1, access: "wo" },
];
const SENDING_CARD_RANGES: Range[] = [{ start: REG.modelId, end: REG.modelId + 2, access: "ro" }];

type Registers = Map<number, number>;

function cardDefaults(temperatureC: number): Registers {
  const regs: Registers = new Map();
  for (let i = 0; i < 5; i++) regs.set(REG.brightness + i, 0xff);
  regs.set(REG.kill, 0x00);
  regs.set(REG.pattern, 0x00);
  const block = encodeTemperature(temperatureC);
  regs.set(REG.monitor, block[0]);
  regs.set(REG.monitor + 1, block[1]);
  return regs;
}

function cardKey(unit: number, port: number, board: number): string {
  return `${unit}/${DevType.ReceivingCard}/${port}/${board}`;
}

export class SimulatedNovaStar {
  private readonly ram = new Map<string, Registers>();
  private readonly flash = new Map<string, Registers>();
  private readonly absent = new Set<string>();
  /** Requests seen, by outcome: for tests and the demo's status line. */
  readonly counters = { requests: 0, replies: 0, silent: 0, errorAcks: 0 };

  constructor(readonly setup: DeviceSetup = DEFAULT_SETUP) {
    this.powerCycle();
  }

  /** Power off and on: every card's RAM comes back from flash (or factory defaults). */
  powerCycle(): void {
    this.ram.clear();
    for (const [key] of this.allCards()) {
      const stored = this.flash.get(key);
      this.ram.set(key, new Map(stored ?? cardDefaults(this.setup.temperatureC)));
    }
  }

  /** Unplugs (or plugs back) a receiving card: an absent card answers nothing, so the unit acks 01. */
  setCardPresent(unit: number, port: number, board: number, present: boolean): void {
    const key = cardKey(unit, port, board);
    if (present) this.absent.delete(key);
    else this.absent.add(key);
  }

  setTemperature(unit: number, port: number, board: number, celsius: number | null): void {
    const regs = this.ram.get(cardKey(unit, port, board));
    if (!regs) throw new RangeError(`no receiving card at unit ${unit} port ${port} board ${board}`);
    const block = encodeTemperature(celsius);
    regs.set(REG.monitor, block[0]);
    regs.set(REG.monitor + 1, block[1]);
  }

  /** Writes registers directly (not over the wire), for tests: values real firmware may hold. */
  poke(unit: number, port: number, board: number, address: number, bytes: number[]): void {
    const regs = this.ram.get(cardKey(unit, port, board));
    if (!regs) throw new RangeError(`no receiving card at unit ${unit} port ${port} board ${board}`);
    bytes.forEach((b, i) => regs.set(address + i, b));
  }

  /** Reads registers directly (not over the wire), for tests. */
  peek(unit: number, port: number, board: number, address: number, length = 1): number[] {
    const regs = this.ram.get(cardKey(unit, port, board));
    if (!regs) throw new RangeError(`no receiving card at unit ${unit} port ${port} board ${board}`);
    return Array.from({ length }, (_, i) => regs.get(address + i) ?? 0);
  }

  /** A request's reply, or null for silence (missing sending unit, broadcast to all units, a reply frame). */
  handle(request: Frame): Frame | null {
    if (request.kind !== "request") return null;
    this.counters.requests++;
    let reply: Frame | null;
    if (request.dst === ALL_UNITS) {
      this.setup.units.forEach((_, unit) => this.apply(request, unit));
      reply = null;
    } else if (request.dst >= this.setup.units.length) {
      reply = null;
    } else {
      const outcome = this.apply(request, request.dst);
      reply = outcome.ack === ACK.ok ? replyTo(request, ACK.ok, outcome.data) : replyTo(request, outcome.ack, new Uint8Array(0));
    }
    if (reply === null) this.counters.silent++;
    else {
      this.counters.replies++;
      if (reply.ack !== ACK.ok) this.counters.errorAcks++;
    }
    return reply;
  }

  /** An error-ack reply without serving the request (checksum errors, injected faults); silence from missing units. */
  errorReply(request: Frame, ack: number): Frame | null {
    if (request.dst >= this.setup.units.length) return null;
    this.counters.errorAcks++;
    return replyTo(request, ack, new Uint8Array(0));
  }

  private apply(request: Frame, unit: number): { ack: number; data: Uint8Array } {
    const invalid = { ack: ACK.invalidCommand, data: new Uint8Array(0) };
    if (request.code !== Code.Read && request.code !== Code.Write) return invalid;
    const n = request.length;
    if (n === 0) return invalid;
    if (request.devType === DevType.SendingCard) {
      if (request.code !== Code.Read || !allowed(SENDING_CARD_RANGES, request.address, n, Code.Read)) return invalid;
      const id = this.setup.units[unit].modelId;
      return { ack: ACK.ok, data: Uint8Array.from({ length: n }, (_, i) => id[request.address - REG.modelId + i]) };
    }
    if (request.devType !== DevType.ReceivingCard) return invalid;
    if (!allowed(RECEIVING_CARD_RANGES, request.address, n, request.code)) return invalid;
    const cards = this.cardsAddressed(unit, request.port, request.board);
    if (cards === null) return invalid;
    // A board index beyond the chain is a card that is not there: like an unplugged one, it does not answer (ack 01).
    const present = cards.filter((key) => this.ram.has(key) && !this.absent.has(key));
    if (present.length === 0) return { ack: ACK.timeout, data: new Uint8Array(0) };
    if (request.code === Code.Read) {
      if (cards.length !== 1) return invalid;
      const regs = this.ram.get(present[0]) as Registers;
      return { ack: ACK.ok, data: Uint8Array.from({ length: n }, (_, i) => regs.get(request.address + i) ?? 0) };
    }
    for (const key of present) {
      const regs = this.ram.get(key) as Registers;
      if (request.address === REG.storeToFlash) {
        const stored = new Map(regs);
        this.flash.set(key, stored);
        continue;
      }
      request.data.forEach((b, i) => regs.set(request.address + i, b));
    }
    // A write that reached only some of the addressed cards still fails as a whole.
    return present.length === cards.length ? { ack: ACK.ok, data: new Uint8Array(0) } : { ack: ACK.timeout, data: new Uint8Array(0) };
  }

  /** Keys of the cards a (port, board) pair addresses on a unit, or null for an impossible address. */
  private cardsAddressed(unit: number, port: number, board: number): string[] | null {
    const { ports, cardsPerPort } = this.setup.units[unit];
    const portList = port === ALL_PORTS ? range(ports) : port < ports ? [port] : null;
    if (portList === null) return null;
    const keys: string[] = [];
    for (const p of portList) {
      if (board === ALL_BOARDS) keys.push(...range(cardsPerPort).map((b) => cardKey(unit, p, b)));
      else keys.push(cardKey(unit, p, board));
    }
    return keys;
  }

  private *allCards(): Generator<[string, number, number, number]> {
    for (const [unit, u] of this.setup.units.entries()) {
      for (let p = 0; p < u.ports; p++) for (let b = 0; b < u.cardsPerPort; b++) yield [cardKey(unit, p, b), unit, p, b];
    }
  }
}

function allowed(ranges: Range[], address: number, length: number, code: number): boolean {
  const range = ranges.find((r) => address >= r.start && address < r.end);
  if (!range) return false;
  if (code === Code.Read && range.access === "wo") return false;
  if (code === Code.Write && range.access === "ro") return false;
  // Flash store takes any value of any length; everything else must fit its register block.
  return range.access === "wo" || address + length <= range.end;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function replyTo(request: Frame, ack: number, data: Uint8Array): Frame {
  return {
    kind: "reply",
    ack,
    serial: request.serial,
    src: request.dst,
    dst: request.src,
    devType: request.devType,
    port: request.port,
    board: request.board,
    code: request.code,
    address: request.address,
    length: request.code === Code.Read ? data.length : 0,
    data,
  };
}
