// The checks that reach out: the running agent (a fake control socket answer), the controller (the
// NovaStar simulator in this process, or nothing listening), and the broker (real mosquitto: open,
// with passwords, with TLS, gone, and a port that never answers).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonCallError, type AgentStatus, type DaemonCall } from "../../agent/commands/index.js";
import type { Config } from "../../agent/config.js";
import { checkBroker } from "../../agent/doctor/broker.js";
import { checkController, reachFix } from "../../agent/doctor/controller.js";
import { daemonResult, probeDaemon, type CallAgent, type DaemonState } from "../../agent/doctor/daemon.js";
import type { ControllerStatus } from "../../agent/drivers/index.js";
import { tcpSimulator } from "../drivers/helpers.js";
import { freePort, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { makeTestPki, type TestPki } from "../helpers/test-ca.js";
import { tempDir } from "../helpers/tmp.js";

const status = { at: "2026-12-01T08:00:00.000Z", playout: null, controller: null, ledger: { headSeq: 3 }, sync: null, host: null, process: { uptimeS: 75, rssBytes: 1 } } satisfies AgentStatus;
const where = { runDir: "/run/x", dataDir: "/var/lib/x" };

const answering = (outcome: DaemonCall): CallAgent => async () => outcome;
const throwing = (err: Error): CallAgent => async () => {
  throw err;
};

describe("daemon", () => {
  it("running, not running, refusing the doctor, hanging: each a line with what to try", async () => {
    const running = await probeDaemon(where, answering({ daemon: "answered", outcome: { ok: true, result: status } }));
    expect(daemonResult(running, where, null)).toEqual({ name: "daemon", level: "ok", detail: "running, up 1 min 15 s, answers on /run/x/control.sock" });
    const absent = await probeDaemon(where, answering({ daemon: "absent", reason: "ENOENT" }));
    expect(daemonResult(absent, where, { activeState: "failed", user: "ledagent", supplementaryGroups: [], environment: {} })).toMatchObject({
      level: "warn",
      detail: "not running: nothing answers on /run/x/control.sock (systemd: failed)",
      fix: "systemctl status ledagent; journalctl -u ledagent -n 50; to start it: systemctl start ledagent",
    });
    const access = await probeDaemon(where, throwing(new DaemonCallError("permission denied on /run/x/control.sock: the user needs the agent's group", "access")));
    expect(daemonResult(access, where, null)).toMatchObject({ level: "fail", fix: expect.stringContaining("usermod -aG ledagent") });
    const hung = await probeDaemon(where, throwing(new DaemonCallError("the daemon did not answer status within 4000 ms", "timeout")));
    expect(daemonResult(hung, where, null)).toMatchObject({ level: "fail", detail: expect.stringContaining("the agent is there but hangs"), fix: expect.stringContaining("systemctl restart ledagent") });
  });
});

const controllerConfig = (port: string): Pick<Config, "controller" | "runDir"> => ({
  runDir: "/run/x",
  controller: { driver: "novastar", port, pollIntervalS: 10, timeoutMs: 300, unit: 0, monitoredCards: [{ port: 0, board: 0 }], temperatureLimitC: 75 },
});
const absent: Promise<DaemonState> = Promise.resolve({ kind: "absent" });
const noCall: CallAgent = async () => {
  throw new Error("the agent must not be asked");
};

describe("controller", () => {
  it("none configured: ok, nothing opened", async () => {
    const r = await checkController({ config: { runDir: "/run/x", controller: { ...controllerConfig("x").controller, driver: "none", port: undefined } }, daemon: absent, call: noCall });
    expect(r.level).toBe("ok");
  });

  it("no agent: probes the simulator directly; a fault is a warn with its fix; a closed port a fail with its fix", async () => {
    const { sim, url } = await tcpSimulator();
    try {
      const r = await checkController({ config: controllerConfig(url), daemon: absent, call: noCall });
      expect(r).toMatchObject({ level: "ok", detail: expect.stringMatching(new RegExp(`^${url}: .*\\(id 01 11\\), brightness \\d+ %, blackout off.*\\(probed directly: no agent runs\\)$`)) });
      sim.device.setCardPresent(0, 0, 0, false);
      const silent = await checkController({ config: controllerConfig(url), daemon: absent, call: noCall });
      expect(silent).toMatchObject({ level: "warn", detail: expect.stringContaining("card.silent"), fix: expect.stringContaining("receiving card does not answer") });
    } finally {
      await sim.close();
    }
    const closed = `tcp://127.0.0.1:${await freePort()}`;
    const r = await checkController({ config: controllerConfig(closed), daemon: absent, call: noCall });
    expect(r).toMatchObject({ level: "fail", detail: expect.stringContaining("refused the connection"), fix: expect.stringContaining("is the controller powered") });
  });

  it("a running agent is asked (it holds the port); an agent that cannot be asked means no probe at all", async () => {
    const offline: ControllerStatus = { online: false, brightness: null, blackout: null, pattern: null, temperatureC: null, faults: ["link.down"], detail: "controller serial:///dev/ttyUSB0?baud=115200 is not reachable (Error: No such file or directory, cannot open /dev/ttyUSB0)", confirmed: true, readAt: 0 };
    const asked: string[] = [];
    const call: CallAgent = async (_runDir, name) => {
      asked.push(name);
      return { daemon: "answered", outcome: { ok: true, result: { driver: "novastar", port: "serial:///dev/ttyUSB0?baud=115200", identity: null, status: offline } } };
    };
    const running: Promise<DaemonState> = Promise.resolve({ kind: "running", status });
    const r = await checkController({ config: controllerConfig("serial:///dev/ttyUSB0?baud=115200"), daemon: running, call });
    expect(asked).toEqual(["controller.status"]);
    expect(r).toMatchObject({ level: "fail", detail: expect.stringContaining("asked the running agent"), fix: expect.stringContaining("plug in the USB-serial adapter") });
    // The agent's own read waits on a controller that does not answer: a line naming the port, not a crash.
    const slow = await checkController({ config: controllerConfig("tcp://10.0.0.5:5200"), daemon: running, call: throwing(new DaemonCallError("the daemon did not answer controller.status within 4000 ms", "timeout")) });
    expect(slow).toMatchObject({ level: "fail", detail: expect.stringMatching(/^tcp:\/\/10\.0\.0\.5:5200: the agent did not answer within 4 s/) });
    const unreachable: Promise<DaemonState> = Promise.resolve({ kind: "unreachable", code: "timeout", message: "no answer" });
    expect(await checkController({ config: controllerConfig("serial:///dev/ttyUSB0"), daemon: unreachable, call: noCall })).toMatchObject({ level: "fail", detail: expect.stringContaining("not checked") });
  });

  it("fixes by port kind and failure", () => {
    expect(reachFix("serial:///dev/ttyUSB0", "Error: Permission denied, cannot open /dev/ttyUSB0")).toContain("dialout");
    expect(reachFix("serial:///dev/ttyUSB0?baud=9600", "controller serial:///dev/ttyUSB0?baud=9600 did not answer within 1 s")).toContain("baud rate");
    expect(reachFix("tcp://10.0.0.5:5200", "controller tcp://10.0.0.5:5200 is not reachable (EHOSTUNREACH) after 1 s")).toContain("ping 10.0.0.5");
    expect(reachFix("tcp://10.0.0.5:5200", "controller tcp://10.0.0.5:5200 did not answer within 1 s")).toContain("does not answer as a NovaStar sending card");
  });
});

describe("broker", () => {
  const tmp = tempDir("ledagent-doctor-broker-");
  let open: Mosquitto;
  let locked: Mosquitto;
  let tls: Mosquitto;
  let pki: TestPki;
  let silent: Server;
  const held: Socket[] = [];
  let silentPort = 0;
  const passwordFile = join(tmp.dir, "password");

  beforeAll(async () => {
    pki = makeTestPki();
    const passwords = join(tmp.dir, "passwd");
    const made = spawnSync("mosquitto_passwd", ["-b", "-c", passwords, "sz-1", "right horse"], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr}`);
    [open, locked, tls] = await Promise.all([
      startMosquitto({ persistence: false }),
      startMosquitto({ persistence: false, globalLines: ["allow_anonymous false", `password_file ${passwords}`] }),
      startMosquitto({ persistence: false, listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.server.cert}`, `keyfile ${pki.server.key}`] }),
    ]);
    // Takes the connection and never says a word: a CONNECT lost on the way.
    silent = createServer((s) => held.push(s));
    silentPort = await freePort();
    await new Promise<void>((r) => silent.listen(silentPort, "127.0.0.1", () => r()));
  });

  afterAll(async () => {
    held.forEach((s) => s.destroy());
    silent?.close();
    await Promise.all([open?.close(), locked?.close(), tls?.close()]);
    pki?.cleanup();
    tmp.cleanup();
  });

  const check = (mqtt: Config["mqtt"], timeoutMs = 3000) => checkBroker({ config: { screenId: "sz-1", mqtt }, pid: 42, timeoutMs });

  it("none configured: ok; configured: a CONNECT under the doctor's own client id", async () => {
    expect((await check(undefined)).level).toBe("ok");
    expect(await check({ url: open.url })).toMatchObject({ level: "ok", detail: expect.stringMatching(new RegExp(`^${open.url}: CONNECT accepted \\(MQTT 5\\) in \\d+ ms, as sz-1-doctor-42$`)) });
  });

  it("a file the agent would refuse: fail naming the key, before any connection", async () => {
    const r = await check({ url: open.url, username: "sz-1", passwordFile: join(tmp.dir, "none") });
    expect(r).toMatchObject({ level: "fail", detail: expect.stringMatching(/^mqtt\.passwordFile: .*none: no such file/) });
  });

  it("the right password gets in; a wrong one is refused with the credentials to check", async () => {
    writeFileSync(passwordFile, "right horse\n", { mode: 0o600 });
    expect((await check({ url: locked.url, username: "sz-1", passwordFile })).level).toBe("ok");
    writeFileSync(passwordFile, "wrong horse\n", { mode: 0o600 });
    const r = await check({ url: locked.url, username: "sz-1", passwordFile });
    expect(r).toMatchObject({ level: "fail", detail: expect.stringContaining("not authorised"), fix: expect.stringContaining("mqtt.passwordFile") });
  });

  it("TLS: the broker's CA trusted gets in; another CA is a verify failure with the mqtt.ca fix", async () => {
    const url = `mqtts://127.0.0.1:${tls.port}`;
    expect(await check({ url, ca: pki.ca })).toMatchObject({ level: "ok" });
    const r = await check({ url, ca: pki.otherCa });
    expect(r).toMatchObject({ level: "fail", detail: expect.stringContaining("TLS: the broker's certificate is not signed by a CA the agent trusts"), fix: "mqtt.ca must be the CA that signed the broker's certificate" });
  });

  it("nothing listening: refused; no answer: a timeout with the network to check", async () => {
    const refused = await check({ url: `mqtt://127.0.0.1:${await freePort()}` });
    expect(refused).toMatchObject({ level: "fail", detail: expect.stringContaining("connection refused"), fix: expect.stringContaining("start the broker") });
    const quiet = await check({ url: `mqtt://127.0.0.1:${silentPort}` }, 300);
    expect(quiet).toMatchObject({ level: "fail", detail: expect.stringContaining("no answer within 0.3 s") });
  });
});
