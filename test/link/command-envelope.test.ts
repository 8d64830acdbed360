import { generateKeyPairSync } from "node:crypto";
import { describe, expect, test } from "vitest";
import { canonicalSha256, signCanonical } from "../../agent/crypto/index.js";
import {
  checkCommandEnvelope,
  MAX_COMMAND_BYTES,
  newCommand,
  signCommand,
  type CommandBody,
  type CommandCheck,
  type CommandCheckContext,
} from "../../agent/link/command-envelope.js";

const NOW = Date.parse("2026-12-01T00:00:00Z");
const MIN = 60_000;
const DAY = 24 * 3600_000;
const SCREEN = "sz-nanshan-001";
const ops = generateKeyPairSync("ed25519");
const stranger = generateKeyPairSync("ed25519");
const CTX: CommandCheckContext = { opsPublicKey: ops.publicKey, screenId: SCREEN, nowMs: NOW };

function body(over: Partial<CommandBody> = {}): CommandBody {
  return { ...newCommand({ screen: SCREEN, name: "brightness.set", args: { percent: 60 }, now: NOW, id: "cmd-1" }), ...over };
}

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

function signed(over: Partial<CommandBody> = {}, key = ops.privateKey): Buffer {
  return bytes(signCommand(body(over), key));
}

function check(payload: Buffer, ctx: Partial<CommandCheckContext> = {}): CommandCheck {
  return checkCommandEnvelope(payload, { ...CTX, ...ctx });
}

function expectRefused(result: CommandCheck, code: string, mentions?: string): Extract<CommandCheck, { ok: false }> {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  if (result.ok) throw new Error("accepted");
  expect(result.code).toBe(code);
  if (mentions) expect(result.message).toContain(mentions);
  return result;
}

function expectAccepted(result: CommandCheck): Extract<CommandCheck, { ok: true }> {
  expect(result.ok, JSON.stringify(result)).toBe(true);
  if (!result.ok) throw new Error("refused");
  return result;
}

const at = (ms: number) => new Date(ms).toISOString();

describe("the ops side", () => {
  test("newCommand fills in a UUID, the times and 300 s of validity, and the agent accepts what signCommand signs", () => {
    const command = newCommand({ screen: SCREEN, name: "status", now: NOW });
    expect(command.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(command).toMatchObject({ screen: SCREEN, name: "status", args: {}, issuedAt: at(NOW), expiresAt: at(NOW + 300_000) });
    const envelope = signCommand(command, ops.privateKey);
    const accepted = expectAccepted(check(bytes(envelope)));
    expect(accepted.command).toEqual(command);
    expect(accepted.digest).toBe(canonicalSha256(envelope));
  });

  test("newCommand refuses what the agent would refuse", () => {
    expect(() => newCommand({ screen: SCREEN, name: "status", validForS: 0 })).toThrow(RangeError);
    expect(() => newCommand({ screen: SCREEN, name: "status", validForS: 7 * 86_400 + 1 })).toThrow(/7 days/);
    expect(() => newCommand({ screen: SCREEN, name: "status", id: "has space" })).toThrow(/command id/);
  });
});

describe("size and parsing come first", () => {
  test("more than 64 KiB is too-large, before any parse (garbage is not called malformed)", () => {
    expectRefused(check(Buffer.alloc(MAX_COMMAND_BYTES + 1, "{")), "too-large", "65537 bytes");
    const big = signed({ args: { percent: 60, pad: "x".repeat(MAX_COMMAND_BYTES) } });
    expect(expectRefused(check(big), "too-large").id).toBeNull();
  });

  test("exactly 64 KiB is read", () => {
    const envelope = signed();
    const padded = Buffer.concat([envelope, Buffer.alloc(MAX_COMMAND_BYTES - envelope.length, " ")]);
    expect(padded.length).toBe(MAX_COMMAND_BYTES);
    expectAccepted(check(padded));
  });

  test("not JSON is malformed, with no id", () => {
    expect(expectRefused(check(Buffer.from('{"command": {"id": "cmd-1"')), "malformed", "not JSON").id).toBeNull();
  });
});

describe("the envelope's shape (strict, each field named)", () => {
  const envelope = () => signCommand(body(), ops.privateKey);

  test.each([
    ["a number", 42, "the envelope"],
    ["null", null, "the envelope"],
    ["no command", { sig: envelope().sig }, "command: missing"],
    ["an unknown envelope field", { ...envelope(), extra: 1 }, "extra: unknown field"],
    ["an unknown command field", { ...envelope(), command: { ...body(), priority: "high" } }, "command.priority: unknown field"],
    ["expiresAt missing", { ...envelope(), command: { ...body(), expiresAt: undefined } }, "command.expiresAt: missing"],
    ["screen of the wrong type", { ...envelope(), command: { ...body(), screen: 7 } }, "command.screen"],
    ["args that are not an object", { ...envelope(), command: { ...body(), args: [60] } }, "command.args"],
    ["a sig that is not a string", { ...envelope(), sig: 12 }, "sig"],
  ])("%s is malformed", (_what, value, mentions) => {
    expectRefused(check(bytes(value)), "malformed", mentions);
  });

  test("a malformed envelope still echoes an id that can be read", () => {
    const refusal = expectRefused(check(bytes({ command: { ...body(), expiresAt: undefined }, sig: "x" })), "malformed");
    expect(refusal.id).toBe("cmd-1");
  });

  test.each([
    ["empty", ""],
    ["129 characters", "a".repeat(129)],
    ["a space", "cmd 1"],
    ["a slash", "cmd/1"],
  ])("an id with %s is malformed, and not echoed", (_what, id) => {
    const refusal = expectRefused(check(signed({ id })), "malformed", "command.id");
    expect(refusal.id).toBeNull();
  });

  test("an id of 128 of the allowed characters is accepted", () => {
    const id = "A-z.0_9:".repeat(16);
    expect(expectAccepted(check(signed({ id }))).command.id).toBe(id);
  });

  test("args may be left out (read as none)", () => {
    const command = { ...body(), args: undefined };
    expectAccepted(check(bytes(signCommand(command, ops.privateKey))));
  });
});

describe("the signature", () => {
  test("unsigned is bad-signature, and the id is echoed", () => {
    const refusal = expectRefused(check(bytes({ command: body() })), "bad-signature", "unsigned");
    expect(refusal.id).toBe("cmd-1");
    expect(refusal.signed).toBeUndefined();
  });

  test("signed by another key is bad-signature", () => {
    expectRefused(check(signed({}, stranger.privateKey)), "bad-signature", "does not verify");
  });

  test("args changed after signing is bad-signature", () => {
    const envelope = signCommand(body(), ops.privateKey);
    envelope.command.args = { percent: 100 };
    expectRefused(check(bytes(envelope)), "bad-signature");
  });

  test("a signature that is not base64 of 64 bytes is bad-signature", () => {
    expectRefused(check(bytes({ command: body(), sig: "bm90IGEgc2lnbmF0dXJl" })), "bad-signature");
  });

  test("no ops key configured is bad-signature, saying so", () => {
    expectRefused(check(signed(), { opsPublicKey: null }), "bad-signature", "opsPublicKey");
  });

  test("a forgery is refused for its signature before anything it claims is looked at", () => {
    expectRefused(check(signed({ screen: "elsewhere", expiresAt: at(NOW - DAY) }, stranger.privateKey)), "bad-signature");
  });

  test("key order and white space do not matter: the digest is of the canonical envelope", () => {
    const envelope = signCommand(body(), ops.privateKey);
    const reordered = Buffer.from(`{ "sig": ${JSON.stringify(envelope.sig)},\n  "command": ${JSON.stringify(envelope.command, null, 2)} }`);
    expect(expectAccepted(check(reordered)).digest).toBe(expectAccepted(check(bytes(envelope))).digest);
    expect(expectAccepted(check(signed({ args: { percent: 61 } }))).digest).not.toBe(expectAccepted(check(bytes(envelope))).digest);
  });
});

describe("what the ops key signed", () => {
  test("another screen's command is wrong-screen, and marked as signed", () => {
    const refusal = expectRefused(check(signed({ screen: "bj-chaoyang-007" })), "wrong-screen", "bj-chaoyang-007");
    expect(refusal.signed).toMatchObject({ name: "brightness.set" });
  });

  test.each([
    ["issuedAt", "yesterday"],
    ["issuedAt", "2026-12-01T00:00:00"],
    ["issuedAt", "2026-02-30T00:00:00Z"],
    ["expiresAt", "2026-12-01 00:05:00Z"],
  ])("%s %s is malformed", (field, value) => {
    expectRefused(check(signed({ [field]: value })), "malformed", `command.${field}`);
  });

  test("expiresAt not after issuedAt is malformed", () => {
    expectRefused(check(signed({ issuedAt: at(NOW), expiresAt: at(NOW) })), "malformed", "not after issuedAt");
  });

  test("valid for more than 7 days is malformed; exactly 7 days is accepted", () => {
    expectRefused(check(signed({ issuedAt: at(NOW), expiresAt: at(NOW + 7 * DAY + 1) })), "malformed", "7 days");
    expectAccepted(check(signed({ issuedAt: at(NOW), expiresAt: at(NOW + 7 * DAY) })));
  });

  test("expired at or before now is expired; a millisecond left is accepted", () => {
    const refusal = expectRefused(check(signed({ issuedAt: at(NOW - 10 * MIN), expiresAt: at(NOW) })), "expired", at(NOW));
    expect(refusal.signed?.expiresAtMs).toBe(NOW);
    expectAccepted(check(signed({ issuedAt: at(NOW - 10 * MIN), expiresAt: at(NOW + 1) })));
  });

  test("issued more than 5 min ahead is not-yet-valid; up to 5 min ahead is accepted", () => {
    expectRefused(check(signed({ issuedAt: at(NOW + 5 * MIN + 1), expiresAt: at(NOW + 10 * MIN) })), "not-yet-valid", "5 min");
    expectAccepted(check(signed({ issuedAt: at(NOW + 5 * MIN), expiresAt: at(NOW + 10 * MIN) })));
  });

  test("times with an offset are read as the instants they name", () => {
    const accepted = check(signed({ issuedAt: "2026-12-01T08:00:00+08:00", expiresAt: "2026-12-01T08:05:00.000+08:00" }));
    expectAccepted(accepted);
  });

  test("a signed body with a lone surrogate cannot verify and is refused, not thrown", () => {
    const envelope = `{"command":{"id":"cmd-1","screen":"${SCREEN}","name":"status","args":{"x":"\\ud800"},"issuedAt":"${at(NOW)}","expiresAt":"${at(NOW + MIN)}"},"sig":"${signCanonical({ a: 1 }, ops.privateKey)}"}`;
    expectRefused(check(Buffer.from(envelope)), "bad-signature");
  });
});

describe("keys JSON.parse keeps but the schema would drop", () => {
  test("refuses a signed command with __proto__ in its args as malformed: what ran would not be what was signed", () => {
    const command = JSON.parse(`{"id":"p-1","screen":"${SCREEN}","name":"brightness.set","args":{"percent":60,"__proto__":{"percent":0}},"issuedAt":"${at(NOW)}","expiresAt":"${at(NOW + 5 * MIN)}"}`) as CommandBody;
    const payload = bytes(signCommand(command, ops.privateKey));
    expect(payload.toString()).toContain('"__proto__":{"percent":0}');
    expectRefused(check(payload), "malformed", "__proto__");
  });
});
