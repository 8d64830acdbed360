import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ACK } from "../../agent/drivers/novastar/codec.js";
import type { NovaStarController } from "../../agent/drivers/novastar/driver.js";
import type { LinkEvent } from "../../agent/drivers/novastar/link.js";
import { REG } from "../../agent/drivers/novastar/registers.js";
import type { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { StatusPoller } from "../../agent/drivers/poller.js";
import { systemClock, systemTimers } from "../../agent/drivers/timers.js";
import { ControllerError, screenStateOf, type ControllerStatus } from "../../agent/drivers/types.js";
import { silentLogger } from "../../agent/log.js";
import { driverFor, tcpSimulator, waitFor } from "./helpers.js";

describe("NovaStar driver against the simulator over TCP", () => {
  let sim: NovaStarSimulator;
  let url: string;
  let controller: NovaStarController;
  let events: LinkEvent[];

  beforeEach(async () => {
    ({ sim, url } = await tcpSimulator());
    ({ controller, events } = driverFor(url));
    await controller.start();
  });

  afterEach(async () => {
    await controller.stop();
    await sim.close();
  });

  it("probes the model and reports firmware as unknown", async () => {
    expect(await controller.probe()).toEqual({ driver: "novastar", model: "MCTRL600 family", modelId: "01 11", firmware: null });
  });

  it("reads a healthy status", async () => {
    const status = await controller.status();
    expect(status).toMatchObject({ online: true, brightness: 100, blackout: false, pattern: "off", temperatureC: 38.5, faults: [] });
  });

  it("sets brightness, blackout and pattern on every receiving card, and reads them back", async () => {
    const states: unknown[] = [];
    controller.onState((s) => states.push(s.brightness));
    await controller.setBrightness(50);
    await controller.setBlackout(true);
    await controller.setPattern("grey");
    expect(sim.device.peek(0, 1, 3, REG.brightness)).toEqual([128]);
    expect(sim.device.peek(0, 0, 0, REG.kill, 2)).toEqual([0xff, 0x09]);
    expect(await controller.status()).toMatchObject({ brightness: 50, blackout: true, pattern: "grey" });
    expect(states).toContain(50);
    await controller.setBlackout(false);
    await controller.setPattern("off");
    expect(await controller.status()).toMatchObject({ blackout: false, pattern: "off" });
  });

  it("publishes a written value as unconfirmed, with the last read's time, and a poller vouches for it only once read back", async () => {
    const poller = new StatusPoller({ controller, log: silentLogger(), clock: systemClock, timers: systemTimers, intervalMs: 60_000, onEvent: () => undefined });
    const published: ControllerStatus[] = [];
    controller.onState((s) => published.push(s));
    poller.start();
    try {
      await waitFor(() => poller.status !== null, 3000, "the first poll");
      const read = poller.status as ControllerStatus;
      expect(read.confirmed).toBe(true);
      expect(poller.screenState()).toEqual({ verified: true, online: true, brightness: 100, blackout: false });

      await controller.setBrightness(50);
      expect(published.at(-1)).toMatchObject({ brightness: 50, confirmed: false, readAt: read.readAt });
      expect(poller.screenState()).toEqual({ verified: false, online: true, brightness: 50, blackout: false });

      // The cards lost the unsaved value before anyone read it: the ack alone had vouched for a lie.
      sim.device.powerCycle();
      await poller.pollOnce();
      expect(poller.screenState()).toEqual({ verified: true, online: true, brightness: 100, blackout: false });

      await controller.setBrightness(50);
      expect(poller.screenState().verified).toBe(false);
      await poller.pollOnce();
      expect(poller.screenState()).toEqual({ verified: true, online: true, brightness: 50, blackout: false });
    } finally {
      await poller.stop();
    }
  });

  it("reports a kill value it has no name for (0x80) as unknown, never as not blacked out", async () => {
    sim.device.poke(0, 0, 0, REG.kill, [0x80]);
    const status = await controller.status();
    expect(status).toMatchObject({ online: true, brightness: 100, blackout: null });
    // A screen whose blackout is unknown is not verified: its plays do not count as delivered.
    expect(screenStateOf(status)).toEqual({ verified: false, online: true, brightness: 100, blackout: null });
    sim.device.poke(0, 0, 0, REG.kill, [0x00]);
    expect((await controller.status()).blackout).toBe(false);
  });

  it("rejects a brightness outside 0..100 and an unknown pattern without touching the wire", async () => {
    await expect(controller.setBrightness(101)).rejects.toThrow(/0..100/);
    // @ts-expect-error: a name a caller might pass from untyped input
    await expect(controller.setPattern("plaid")).rejects.toThrow(/unknown test pattern "plaid"/);
    expect(sim.device.counters.requests).toBe(0);
  });

  it("loses unsaved values on a power cycle and keeps values stored to flash", async () => {
    await controller.setBrightness(20);
    sim.device.powerCycle();
    expect((await controller.status()).brightness).toBe(100);
    await controller.setBrightness(30);
    await controller.storeToFlash();
    await controller.setBrightness(80);
    sim.device.powerCycle();
    expect((await controller.status()).brightness).toBe(30);
  });

  it("reports a silent receiving card (ack 01) as card.silent while the controller stays online", async () => {
    sim.device.setCardPresent(0, 0, 0, false);
    const status = await controller.status();
    expect(status.online).toBe(true);
    expect(status.faults).toEqual(["card.silent"]);
    // Brightness, kill/pattern and monitor reads all fail the same way: said once.
    expect(status.detail).toBe("port 0 card 0: receiving card did not answer (ack 01)");
    sim.device.setCardPresent(0, 0, 0, true);
    expect((await controller.status()).faults).toEqual([]);
  });

  it("fails a write that reaches no receiving card with the ack's meaning", async () => {
    const { controller: far } = driverFor(url, { unit: 0 });
    await far.start();
    for (let p = 0; p < 2; p++) for (let b = 0; b < 4; b++) sim.device.setCardPresent(0, p, b, false);
    await expect(far.setBrightness(10)).rejects.toThrow(/receiving card did not answer \(ack 01\)/);
    await far.stop();
  });

  it("says each distinct reason once, in order, when several cards fail", async () => {
    const { controller: two } = driverFor(url, { monitoredCards: [{ port: 0, board: 0 }, { port: 1, board: 2 }] });
    await two.start();
    sim.device.setCardPresent(0, 0, 0, false);
    sim.device.setCardPresent(0, 1, 2, false);
    const status = await two.status();
    expect(status.faults).toEqual(["card.silent"]);
    expect(status.detail).toBe("port 0 card 0: receiving card did not answer (ack 01); port 1 card 2: receiving card did not answer (ack 01)");
    await two.stop();
  });

  it("raises temperature.high above the limit", async () => {
    sim.device.setTemperature(0, 0, 0, 81);
    const status = await controller.status();
    expect(status.faults).toEqual(["temperature.high"]);
    expect(status.temperatureC).toBe(81);
    expect(status.detail).toMatch(/81 °C \(limit 75 °C\)/);
  });

  it("times out against a sending unit that is not in the chain (silence), as a status not a throw", async () => {
    const { controller: missing } = driverFor(url, { unit: 3 });
    await missing.start();
    const status = await missing.status();
    expect(status).toMatchObject({ online: false, brightness: null, blackout: null, faults: ["link.timeout"] });
    expect(status.detail).toMatch(/did not answer within/);
    await expect(missing.probe()).rejects.toThrow(ControllerError);
    await missing.stop();
  });

  it("reconnects after the simulator restarts on the same port", async () => {
    expect((await controller.status()).online).toBe(true);
    const port = Number(new URL(url.replace("tcp:", "http:")).port);
    await sim.close();
    await waitFor(() => events.some((e) => e.type === "disconnected"), 3000, "disconnect");
    const down = await controller.status();
    expect(down.online).toBe(false);
    expect(down.faults.some((f) => f === "link.down" || f === "link.timeout")).toBe(true);
    ({ sim } = await tcpSimulator(port));
    await waitFor(() => events.filter((e) => e.type === "connected").length >= 2, 5000, "reconnect");
    expect((await controller.status()).online).toBe(true);
  });

  describe("injected faults", () => {
    it("drop: a lost reply is retried and the request still succeeds", async () => {
      sim.inject({ kind: "drop", count: 1 });
      expect((await controller.status()).faults).toEqual([]);
      expect(events.some((e) => e.type === "timeout")).toBe(true);
    });

    it("delay: a reply later than the timeout is ignored by serial and the retry wins", async () => {
      sim.inject({ kind: "delay", ms: 700, count: 1 });
      expect(await controller.probe()).toMatchObject({ modelId: "01 11" });
      await waitFor(() => events.some((e) => e.type === "unmatched-reply"), 2000, "late reply");
    });

    it("garbage: noise before every reply is skipped", async () => {
      sim.inject({ kind: "garbage", bytes: 25 });
      for (let i = 0; i < 5; i++) expect((await controller.status()).faults).toEqual([]);
    });

    it("split: replies arriving a few bytes at a time are reassembled", async () => {
      sim.inject({ kind: "split", pieceBytes: 2, gapMs: 1 });
      expect(await controller.status()).toMatchObject({ online: true, brightness: 100, faults: [] });
    });

    it("silence: status goes offline with link.timeout, then recovers when cleared", async () => {
      sim.inject({ kind: "silence" });
      expect(await controller.status()).toMatchObject({ online: false, faults: ["link.timeout"] });
      sim.clearFaults();
      await waitFor(() => controller.link.connected, 3000, "connection");
      expect((await controller.status()).online).toBe(true);
    });

    it("error acks: 02 is retried, 04 surfaces as card.invalid", async () => {
      sim.inject({ kind: "ack", ack: ACK.requestChecksum, count: 1 });
      expect((await controller.status()).faults).toEqual([]);
      sim.inject({ kind: "ack", ack: ACK.invalidCommand, count: 1 });
      expect((await controller.status()).faults).toEqual(["card.invalid"]);
    });
  });
});
