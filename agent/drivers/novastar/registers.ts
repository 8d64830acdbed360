// The registers the driver uses (spec/novastar.md, "Registers used first") and the value
// conversions around them. Pure: shared by the driver and the simulator.

export const REG = {
  /** devType 00, read 2: controller model id. */
  modelId: 0x00000002,
  /** devType 01: global brightness 0..255; R, G, B and virtual red follow at +1..+4. */
  brightness: 0x02000001,
  /** devType 01: kill mode FF black, 00 normal. */
  kill: 0x02000100,
  /** devType 01: test pattern (00 normal video). */
  pattern: 0x02000101,
  /** devType 01: monitoring block (byte 0 flags, byte 1 temperature in 0.5 °C). */
  monitor: 0x0a000000,
  /** devType 01: write any value to store the current parameters to flash. */
  storeToFlash: 0x01000011,
} as const;

export const KILL_BLACK = 0xff;
export const KILL_NORMAL = 0x00;

/**
 * Kill mode as blackout: FF true, 00 false, anything else null (unknown). The spec names only
 * those two values; calling 0x80 "not blacked out" would stamp a play as verified on a screen
 * that may well be black.
 */
export function killToBlackout(value: number): boolean | null {
  if (value === KILL_BLACK) return true;
  if (value === KILL_NORMAL) return false;
  return null;
}

export const PATTERNS = {
  off: 0x00,
  red: 0x02,
  green: 0x03,
  blue: 0x04,
  white: 0x05,
  horizontal: 0x06,
  vertical: 0x07,
  slash: 0x08,
  grey: 0x09,
  aging: 0x0a,
} as const;

export type PatternName = keyof typeof PATTERNS;
export const PATTERN_NAMES = Object.keys(PATTERNS) as PatternName[];

export function isPatternName(name: string): name is PatternName {
  return Object.hasOwn(PATTERNS, name);
}

/** The pattern's name for a register value, or null for a value the spec does not list. */
export function patternName(value: number): PatternName | null {
  for (const name of PATTERN_NAMES) if (PATTERNS[name] === value) return name;
  return null;
}

/** Model ids as their two wire bytes, hex, space separated (they are not a number in the spec). */
export const MODELS: Record<string, string> = {
  "01 00": "MSD300/MCTRL300",
  "01 11": "MCTRL600 family",
  "07 11": "MCTRL660 Pro",
  "03 11": "MCTRL4K",
  "06 61": "VX4S",
};

export function modelName(idBytes: Uint8Array): string {
  const key = Array.from(idBytes, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(" ");
  return MODELS[key] ?? `unknown model (id ${key})`;
}

/** percent → register value: round(percent × 255 / 100) (spec). */
export function percentToRegister(percent: number): number {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new RangeError(`brightness must be 0..100 %, got ${percent}`);
  return Math.round((percent * 255) / 100);
}

/** register value → whole percent; exact inverse of percentToRegister for whole percents. */
export function registerToPercent(value: number): number {
  return Math.round((value * 100) / 255);
}

/** Monitoring block: byte 0 bit 7 = valid, bit 0 = sign; byte 1 = magnitude in 0.5 °C. */
export function decodeTemperature(block: Uint8Array): number | null {
  if (block.length < 2 || (block[0] & 0x80) === 0) return null;
  const magnitude = block[1] / 2;
  return (block[0] & 0x01) === 1 ? -magnitude : magnitude;
}

export function encodeTemperature(celsius: number | null): Uint8Array {
  if (celsius === null) return Uint8Array.of(0, 0);
  const halfDegrees = Math.min(255, Math.round(Math.abs(celsius) * 2));
  return Uint8Array.of(0x80 | (celsius < 0 ? 1 : 0), halfDegrees);
}
