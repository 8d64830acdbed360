import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../agent/log.js";
import type { NovaStarController } from "../../agent/drivers/novastar/driver.js";
import type { LinkEvent } from "../../agent/drivers/novastar/link.js";
import { REG } from "../../agent/drivers/novastar/registers.js";
import { openPtyPair, type PtyPair } from "../../agent/drivers/novastar/simulator/pty.js";
import { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { driverFor } from "./helpers.js";

// A socat pty pair is the serial cable: the simulator on one end, the driver on the other.
describe("NovaStar driver against the simulator over a serial pty pair", () => {
  let pty: PtyPair;
  let sim: NovaStarSimulator;
  let controller: NovaStarController;
  let events: LinkEvent[];

  beforeAll(async () => {
    pty = await openPtyPair();
    sim = new NovaStarSimulator({ log: silentLogger() });
    await sim.attachSerial(pty.simulatorPath, 115200);
    ({ controller, events } = driverFor(`serial://${pty.agentPath}?baud=115200`, { link: { timeoutMs: 500, retries: 2 } }));
    await controller.start();
  });

  afterAll(async () => {
    await controller.stop();
    await sim.close();
    await pty.close();
  });

  it("probes, reads status and writes over the serial line", async () => {
    expect((await controller.probe()).model).toBe("MCTRL600 family");
    await controller.setBrightness(85);
    expect(sim.device.peek(0, 0, 2, REG.brightness)).toEqual([217]);
    expect(await controller.status()).toMatchObject({ online: true, brightness: 85, blackout: false, faults: [] });
  });

  it("survives split replies and garbage on the line", async () => {
    sim.inject({ kind: "split", pieceBytes: 1, gapMs: 1, count: 3 });
    sim.inject({ kind: "garbage", bytes: 9, count: 3 });
    expect(await controller.status()).toMatchObject({ online: true, faults: [] });
  });

  it("drop and delay are recovered by retry", async () => {
    sim.inject({ kind: "drop", count: 1 });
    sim.inject({ kind: "delay", ms: 800, count: 1 });
    expect((await controller.probe()).modelId).toBe("01 11");
  });

  it("goes offline while the simulator is gone and comes back when it returns", async () => {
    await sim.close();
    expect(await controller.status()).toMatchObject({ online: false, faults: ["link.timeout"] });
    sim = new NovaStarSimulator({ log: silentLogger() });
    await sim.attachSerial(pty.simulatorPath, 115200);
    expect(await controller.status()).toMatchObject({ online: true, brightness: 100, faults: [] });
    expect(events.some((e) => e.type === "timeout")).toBe(true);
  });

  it("reopens the port after repeated silence and keeps working", async () => {
    const count = (type: LinkEvent["type"]): number => events.filter((e) => e.type === type).length;
    const [disconnectsBefore, connectsBefore] = [count("disconnected"), count("connected")];
    sim.inject({ kind: "silence" });
    for (let i = 0; i < 3; i++) expect((await controller.status()).online).toBe(false);
    sim.clearFaults();
    expect(count("disconnected")).toBe(disconnectsBefore + 1);
    expect(await controller.status()).toMatchObject({ online: true });
    expect(count("connected")).toBe(connectsBefore + 1);
  });
});
