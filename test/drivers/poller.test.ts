import { describe, expect, it } from "vitest";
import { silentLogger } from "../../agent/log.js";
import { NoneController } from "../../agent/drivers/none.js";
import { StatusPoller, type ControllerEvent } from "../../agent/drivers/poller.js";
import type { Controller, ControllerStatus, FaultCode, StateListener } from "../../agent/drivers/types.js";
import { FakeTime } from "./fake-time.js";

// A one-part unit test: the poller against a scripted controller and fake time.
function scripted(time: FakeTime, script: Array<Partial<ControllerStatus> | Error>): Controller & { publish(status: ControllerStatus): void } {
  const listeners = new Set<StateListener>();
  let i = 0;
  const fail = async (): Promise<never> => {
    throw new Error("not used");
  };
  return {
    publish: (status) => {
      for (const l of listeners) l(status);
    },
    driver: "scripted",
    port: "test://",
    start: async () => undefined,
    stop: async () => undefined,
    probe: fail,
    setBrightness: fail,
    setBlackout: fail,
    setPattern: fail,
    onState: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    status: async () => {
      const step = script[Math.min(i++, script.length - 1)];
      if (step instanceof Error) throw step;
      const status: ControllerStatus = { online: true, brightness: 80, blackout: false, pattern: "off", temperatureC: 40, faults: [], detail: "", confirmed: true, readAt: time.now(), ...step };
      for (const l of listeners) l(status);
      return status;
    },
  };
}

function poller(time: FakeTime, controller: Controller, events: ControllerEvent[]): StatusPoller {
  return new StatusPoller({ controller, log: silentLogger(), clock: time, timers: time, intervalMs: 10_000, onEvent: (e) => events.push(e) });
}

describe("StatusPoller", () => {
  it("stamps a verified screen state from a good read, and an unverified one before any read", async () => {
    const time = new FakeTime();
    const p = poller(time, scripted(time, [{}]), []);
    expect(p.screenState()).toEqual({ verified: false, online: false, brightness: null, blackout: null });
    await p.pollOnce();
    expect(p.screenState()).toEqual({ verified: true, online: true, brightness: 80, blackout: false });
  });

  it("raises a fault event per new fault code and a recovery when they clear", async () => {
    const time = new FakeTime();
    const events: ControllerEvent[] = [];
    const faulty = (faults: FaultCode[], extra: Partial<ControllerStatus> = {}): Partial<ControllerStatus> => ({ faults, ...extra });
    const p = poller(time, scripted(time, [{}, faulty(["card.silent"], { brightness: null, blackout: null }), faulty(["card.silent", "temperature.high"]), faulty(["card.silent", "temperature.high"]), {}]), events);
    p.start();
    for (let i = 0; i < 5; i++) await time.advance(10_000);
    await p.stop();
    expect(events.map((e) => (e.type === "controller.fault" ? `fault ${e.newFaults}` : `recovered ${e.cleared}`))).toEqual([
      "fault card.silent",
      "fault temperature.high",
      "recovered card.silent,temperature.high",
    ]);
  });

  it("marks the screen unverified while a card is silent (brightness unread)", async () => {
    const time = new FakeTime();
    const p = poller(time, scripted(time, [{ faults: ["card.silent"], brightness: null, blackout: null }]), []);
    await p.pollOnce();
    expect(p.screenState().verified).toBe(false);
  });

  it("stops vouching for a state that has gone stale", async () => {
    const time = new FakeTime();
    const p = poller(time, scripted(time, [{}]), []);
    await p.pollOnce();
    time.set(time.now() + 25_001);
    expect(p.screenState()).toMatchObject({ verified: false, online: true, brightness: 80 });
  });

  it("judges a state's age on the monotonic clock: a wall-clock step neither voids a fresh read nor revives a stale one", async () => {
    const time = new FakeTime();
    const p = poller(time, scripted(time, [{}]), []);
    await p.pollOnce();
    time.jumpWall(-3600_000); // NTP steps the wall clock back an hour just after the read
    expect(p.screenState().verified).toBe(true);
    time.jumpWall(+7200_000); // and forward
    expect(p.screenState().verified).toBe(true);
    await time.advance(30_000); // 30 s really pass with no read: stale whatever the wall clock says
    time.jumpWall(-30_000);
    expect(p.screenState().verified).toBe(false);
  });

  it("never vouches for values assumed after a write, and ages them by the read they were built on", async () => {
    const time = new FakeTime();
    const controller = scripted(time, [{}, { brightness: 50 }]);
    const p = poller(time, controller, []);
    p.start();
    await time.advance(0);
    expect(p.screenState()).toEqual({ verified: true, online: true, brightness: 80, blackout: false });
    const read = p.status as ControllerStatus;

    await time.advance(4_000);
    // What the NovaStar driver publishes once a write is acknowledged: the last read, patched.
    controller.publish({ ...read, brightness: 50, confirmed: false });
    expect(p.screenState()).toEqual({ verified: false, online: true, brightness: 50, blackout: false });
    expect(p.readAgeMs()).toBe(4_000);

    await time.advance(6_000); // the next poll reads the value back
    expect(p.status?.confirmed).toBe(true);
    expect(p.screenState()).toEqual({ verified: true, online: true, brightness: 50, blackout: false });
    expect(p.readAgeMs()).toBe(0);

    controller.publish({ ...read, brightness: 60, confirmed: false }); // built on a read older than the last one seen
    expect(p.readAgeMs()).toBe(Infinity);
    expect(p.screenState().verified).toBe(false);
    await p.stop();
  });

  it("survives a driver whose status() throws, and keeps polling", async () => {
    const time = new FakeTime();
    const p = poller(time, scripted(time, [new Error("driver bug"), {}]), []);
    p.start();
    await time.advance(0);
    expect(p.status).toBeNull();
    await time.advance(10_000);
    expect(p.screenState().verified).toBe(true);
    await p.stop();
  });

  it("with the none driver: never verified, no faults", async () => {
    const time = new FakeTime();
    const events: ControllerEvent[] = [];
    const p = poller(time, new NoneController({ clock: time }), events);
    await p.pollOnce();
    expect(p.screenState()).toEqual({ verified: false, online: false, brightness: null, blackout: null });
    expect(events).toEqual([]);
    await expect(new NoneController().setBrightness()).rejects.toThrow(/no controller configured/);
  });
});
