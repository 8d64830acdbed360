import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Code, encodeFrame, FrameDecoder, FrameError, fromHex, hex, type Frame } from "../../agent/drivers/novastar/codec.js";
import { decodeTemperature, encodeTemperature, killToBlackout, percentToRegister, registerToPercent } from "../../agent/drivers/novastar/registers.js";
import { propertyParams } from "../helpers/property.js";

// spec/novastar.md, "Golden frames": request → reply, byte for byte.
const GOLDEN = [
  {
    name: "set brightness 0x80, first receiving card",
    request: "55 AA 00 15 FE 00 01 00 00 00 01 00 01 00 00 02 01 00 80 EE 56",
    reply: "AA 55 00 15 00 FE 01 00 00 00 01 00 01 00 00 02 00 00 6D 56",
    fields: { serial: 0x15, devType: 1, port: 0, board: 0, code: Code.Write, address: 0x02000001, length: 1, data: [0x80] },
  },
  {
    name: "read brightness, 5 bytes",
    request: "55 AA 00 14 FE 00 01 00 00 00 00 00 01 00 00 02 05 00 70 56",
    reply: "AA 55 00 14 00 FE 01 00 00 00 00 00 01 00 00 02 05 00 FF FF FF FF FF 6B 5B",
    fields: { serial: 0x14, devType: 1, port: 0, board: 0, code: Code.Read, address: 0x02000001, length: 5, data: [] },
  },
  {
    name: "blackout, port 0, all cards",
    request: "55 AA 00 80 FE 00 01 00 FF FF 01 00 00 01 00 02 01 00 FF D6 59",
    reply: "AA 55 00 80 00 FE 01 00 FF FF 01 00 00 01 00 02 00 00 D6 58",
    fields: { serial: 0x80, devType: 1, port: 0, board: 0xffff, code: Code.Write, address: 0x02000100, length: 1, data: [0xff] },
  },
];

function request(f: (typeof GOLDEN)[number]["fields"]): Frame {
  return { kind: "request", ack: 0, src: 0xfe, dst: 0, ...f, data: Uint8Array.from(f.data) };
}

describe("NovaStar codec: golden frames", () => {
  for (const g of GOLDEN) {
    it(`encodes ${g.name} byte for byte`, () => {
      expect(hex(encodeFrame(request(g.fields)))).toBe(g.request);
    });

    it(`decodes ${g.name} and its reply, and re-encodes the reply byte for byte`, () => {
      const [req] = new FrameDecoder().push(fromHex(g.request));
      expect(req).toMatchObject({ kind: "request", serial: g.fields.serial, address: g.fields.address, length: g.fields.length });
      const [rep] = new FrameDecoder().push(fromHex(g.reply));
      expect(rep).toMatchObject({ kind: "reply", ack: 0, serial: g.fields.serial, src: 0, dst: 0xfe, address: g.fields.address });
      expect(hex(encodeFrame(rep))).toBe(g.reply);
    });
  }

  it("hands back the read reply's data", () => {
    const [rep] = new FrameDecoder().push(fromHex(GOLDEN[1].reply));
    expect(Array.from(rep.data)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  it("rejects a frame with one flipped bit, and counts the bytes as discarded", () => {
    const bytes = fromHex(GOLDEN[0].reply);
    bytes[5] ^= 0x01;
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes)).toEqual([]);
    expect(decoder.stats.discardedBytes).toBeGreaterThan(0);
  });

  it("reports a complete request with a bad checksum (a device answers ack 02)", () => {
    const bytes = fromHex(GOLDEN[0].request);
    bytes[bytes.length - 1] ^= 0xff;
    const seen: number[] = [];
    new FrameDecoder({ onRequestChecksumError: (h) => seen.push(h.serial) }).push(bytes);
    expect(seen).toEqual([0x15]);
  });

  it("accepts an error-ack read reply with or without its data bytes", () => {
    const base: Frame = { kind: "reply", ack: 1, serial: 9, src: 0, dst: 0xfe, devType: 1, port: 0, board: 3, code: Code.Read, address: 0x02000001, length: 2, data: Uint8Array.of(0, 0) };
    const withData = encodeFrame(base);
    const bare = encodeFrame({ ...base, data: new Uint8Array(0) });
    expect(bare.length).toBe(20);
    const decoded = new FrameDecoder().push(Uint8Array.from([...withData, ...bare]));
    expect(decoded.map((f) => [f.ack, f.data.length])).toEqual([[1, 2], [1, 0]]);
  });
});

describe("NovaStar codec: bad input to the encoder", () => {
  const ok = request(GOLDEN[0].fields);
  it.each([
    ["serial", { serial: 256 }, /serial must be a byte/],
    ["board", { board: 0x10000 }, /board must be 0..65535/],
    ["address", { address: -1 }, /address must be a 32-bit/],
    ["length mismatch", { length: 2 }, /does not match 1 data bytes/],
  ])("refuses a bad %s", (_name, patch, message) => {
    expect(() => encodeFrame({ ...ok, ...patch })).toThrow(message);
    expect(() => encodeFrame({ ...ok, ...patch })).toThrow(FrameError);
  });

  it("refuses text that is not hex", () => {
    expect(() => fromHex("55 AZ")).toThrow(/not a hex byte: "AZ"/);
  });
});

describe("NovaStar codec: hostile byte streams", () => {
  const byte = fc.integer({ min: 0, max: 255 });
  const frameArb: fc.Arbitrary<Frame> = fc
    .record({
      kind: fc.constantFrom<Frame["kind"]>("request", "reply"),
      ack: fc.constantFrom(0, 0, 0, 1, 4),
      serial: byte,
      dst: byte,
      devType: fc.constantFrom(0, 1, 2),
      port: byte,
      board: fc.integer({ min: 0, max: 0xffff }),
      code: fc.constantFrom(Code.Read, Code.Write),
      address: fc.integer({ min: 0, max: 0xffffffff }),
      payload: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    })
    .map((r) => {
      const carries = r.kind === "request" ? r.code === Code.Write : r.code === Code.Read && r.ack === 0;
      const data = carries ? r.payload : new Uint8Array(0);
      const length = r.kind === "reply" && r.code === Code.Write ? 0 : r.kind === "reply" && r.ack !== 0 ? 0 : r.payload.length;
      return { kind: r.kind, ack: r.kind === "request" ? 0 : r.ack, serial: r.serial, src: 0xfe, dst: r.dst, devType: r.devType, port: r.port, board: r.board, code: r.code, address: r.address, length, data };
    });
  // Noise is biased towards the bytes that start heads, to make false heads common.
  const noise = fc.array(fc.oneof(byte, fc.constantFrom(0x55, 0xaa)), { maxLength: 30 }).map((a) => Uint8Array.from(a));

  function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const p of [...points, bytes.length]) {
      out.push(bytes.slice(prev, p));
      prev = p;
    }
    return out;
  }

  it("property: finds every frame, in order, through any noise and any chunking, and invents none", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, frameArb), { minLength: 1, maxLength: 6 }), noise, fc.array(fc.nat(), { maxLength: 20 }), (pairs, tail, cuts) => {
        const parts: number[] = [];
        for (const [n, f] of pairs) parts.push(...n, ...encodeFrame(f));
        parts.push(...tail);
        const stream = Uint8Array.from(parts);
        const decoder = new FrameDecoder();
        const got = chunked(stream, cuts).flatMap((c) => decoder.push(c));
        const want = pairs.map(([, f]) => hex(encodeFrame(f)));
        expect(got.map((f) => hex(encodeFrame(f)))).toEqual(want);
      }),
      propertyParams("codec: finds every frame through noise and chunking", 400),
    );
  });

  it("finds a frame that follows a false head claiming a long payload", () => {
    const falseHead = Uint8Array.from([0xaa, 0x55, 0, 1, 0, 0xfe, 1, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0xff, 0x40]);
    const real = fromHex(GOLDEN[0].reply);
    const frames = new FrameDecoder().push(Uint8Array.from([...falseHead, ...real]));
    expect(frames.map((f) => f.serial)).toEqual([0x15]);
  });

  it("property: never reports a frame from pure noise", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(new FrameDecoder().push(bytes)).toEqual([]);
      }),
      propertyParams("codec: no frame from pure noise", 300),
    );
  });
});

describe("NovaStar registers", () => {
  it("maps every whole percent to round(p × 255 / 100) and back to itself", () => {
    for (let p = 0; p <= 100; p++) {
      const v = percentToRegister(p);
      expect(v).toBe(Math.round((p * 255) / 100));
      expect(registerToPercent(v)).toBe(p);
    }
    expect(percentToRegister(50)).toBe(128);
  });

  it("names only kill values FF (blackout) and 00 (normal); every other byte is unknown", () => {
    expect(killToBlackout(0xff)).toBe(true);
    expect(killToBlackout(0x00)).toBe(false);
    for (let v = 1; v < 0xff; v++) expect(killToBlackout(v)).toBeNull();
  });

  it("refuses a percent outside 0..100", () => {
    expect(() => percentToRegister(101)).toThrow(/0..100/);
    expect(() => percentToRegister(Number.NaN)).toThrow(/0..100/);
  });

  it("decodes the monitoring block: valid bit, sign bit, half degrees", () => {
    expect(decodeTemperature(Uint8Array.of(0x80, 77))).toBe(38.5);
    expect(decodeTemperature(Uint8Array.of(0x81, 10))).toBe(-5);
    expect(decodeTemperature(Uint8Array.of(0x00, 77))).toBeNull();
    expect(decodeTemperature(encodeTemperature(-12.5))).toBe(-12.5);
  });
});
