// Which MQTT version the next attempt speaks: a broker's own refusal of 5 is for good; silent
// closes earn one 3.1.1 attempt, then 5 again; once 5 was accepted nothing talks the agent down.
import { describe, expect, it } from "vitest";
import { ProtocolChoice, type AttemptEnd } from "../../agent/link/protocol-choice.js";

const silentClose = (v: 4 | 5): AttemptEnd => ({ protocolVersion: v, connack: false, refusal: null, transportUp: true, failure: null });
const refused = (code: number): AttemptEnd => ({ protocolVersion: 5, connack: false, refusal: code, transportUp: true, failure: "refused" });
const dropped = (v: 4 | 5): AttemptEnd => ({ protocolVersion: v, connack: true, refusal: null, transportUp: true, failure: null });

describe("ProtocolChoice", () => {
  it("stays on 3.1.1 for good when the broker refuses 5 with 1 or 132", () => {
    for (const code of [1, 132]) {
      const choice = new ProtocolChoice();
      expect(choice.ended(refused(code), "refused")).toEqual({ to: 4, forGood: true, why: "refused" });
      choice.accepted(4);
      expect(choice.ended(dropped(4), "dropped")).toBeNull();
      expect(choice.next).toBe(4);
    }
  });

  it("other refusals (not authorised) and failures (TLS, timeouts) never fall back", () => {
    const choice = new ProtocolChoice();
    for (let i = 0; i < 5; i++) {
      expect(choice.ended(refused(135), "not authorised")).toBeNull();
      expect(choice.ended({ ...silentClose(5), failure: "TLS: certificate has expired" }, "tls")).toBeNull();
      expect(choice.ended({ ...silentClose(5), transportUp: false }, "ECONNREFUSED")).toBeNull();
    }
    expect(choice.next).toBe(5);
  });

  it("two silent closes earn one 3.1.1 attempt, and the attempt after it speaks 5 again", () => {
    const choice = new ProtocolChoice();
    expect(choice.ended(silentClose(5), "closed")).toBeNull();
    expect(choice.ended(silentClose(5), "closed")).toMatchObject({ to: 4, forGood: false });
    expect(choice.next).toBe(4);
    choice.accepted(4);
    expect(choice.ended(dropped(4), "dropped")).toBeNull();
    expect(choice.next).toBe(5);
  });

  it("once 5 was accepted, no number of silent closes talks the agent down (a man in the middle, a rolling restart)", () => {
    const choice = new ProtocolChoice();
    choice.accepted(5);
    expect(choice.ended(dropped(5), "dropped")).toBeNull();
    for (let i = 0; i < 10; i++) expect(choice.ended(silentClose(5), "closed")).toBeNull();
    expect(choice.next).toBe(5);
  });
});
