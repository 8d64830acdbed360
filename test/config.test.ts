// A bad config names the key, the value and what is expected: one test per class of mistake.
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, ftruncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, envName, loadConfig, parseConfig, validateConfig } from "../agent/config.js";
import { tempDir } from "./helpers/tmp.js";

const GOOD = `
screenId: sz-nanshan-001
dataDir: /var/lib/ledagent
timezone: Asia/Shanghai
panel: { width: 768, height: 384, fps: 30, fit: contain, background: "#000000" }
mqtt: { url: "mqtts://broker.example:8883" }
opsPublicKey: /etc/ledagent/ops.pub.pem
controller: { driver: novastar, port: "serial:///dev/ttyUSB0?baud=115200" }
player: { backend: mpv, output: { x: 0, y: 0 }, headless: false }
telemetryIntervalS: 60
`;

function problem(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("config was accepted");
}

describe("config", () => {
  it("loads the spec's example with defaults filled in", () => {
    const c = parseConfig(GOOD, {});
    expect(c.panel).toEqual({ width: 768, height: 384, fps: 30, fit: "contain", background: "#000000" });
    expect(c.controller.port).toBe("serial:///dev/ttyUSB0?baud=115200");
    expect(c.runDir).toBe("/run/ledagent");
    expect(c.telemetryIntervalS).toBe(60);
  });

  it("derives override names exactly as the spec lists them", () => {
    expect(envName(["mqtt", "url"])).toBe("LEDAGENT_MQTT_URL");
    expect(envName(["panel", "width"])).toBe("LEDAGENT_PANEL_WIDTH");
    expect(envName(["opsPublicKey"])).toBe("LEDAGENT_OPS_PUBLIC_KEY");
    expect(envName(["player", "headless"])).toBe("LEDAGENT_PLAYER_HEADLESS");
    expect(envName(["runDir"])).toBe("LEDAGENT_RUN_DIR");
    expect(envName(["telemetryIntervalS"])).toBe("LEDAGENT_TELEMETRY_INTERVAL_S");
  });

  it("applies LEDAGENT_* overrides, parsed by the schema's types", () => {
    const c = parseConfig(GOOD, {
      LEDAGENT_PANEL_WIDTH: "1008",
      LEDAGENT_PLAYER_HEADLESS: "true",
      LEDAGENT_MQTT_URL: "mqtt://127.0.0.1:1883",
      LEDAGENT_OPS_PUBLIC_KEY: "/tmp/ops.pem",
      LEDAGENT_TELEMETRY_INTERVAL_S: "15",
      LEDAGENT_RUN_DIR: "/tmp/run",
      LEDAGENT_CONFIG: "/ignored/as/a/key",
    });
    expect(c.panel.width).toBe(1008);
    expect(c.player.headless).toBe(true);
    expect(c.mqtt?.url).toBe("mqtt://127.0.0.1:1883");
    expect(c.opsPublicKey).toBe("/tmp/ops.pem");
    expect(c.telemetryIntervalS).toBe(15);
    expect(c.runDir).toBe("/tmp/run");
  });

  it("an override can supply a section the file lacks", () => {
    const c = parseConfig("screenId: a\npanel: { width: 64, height: 32 }\n", { LEDAGENT_MQTT_URL: "mqtt://127.0.0.1:1" });
    expect(c.mqtt?.url).toBe("mqtt://127.0.0.1:1");
  });

  it.each([
    ["a missing required key", GOOD.replace("screenId: sz-nanshan-001", ""), /screenId: missing: expected string/],
    ["a wrong type", GOOD.replace("width: 768", "width: wide"), /panel\.width: "wide": expected number/],
    ["a number out of range", GOOD.replace("width: 768", "width: 0"), /panel\.width: 0: expected .*>=8/],
    ["a bad enum value", GOOD.replace("fit: contain", "fit: zoom"), /panel\.fit: "zoom": expected one of .*contain/],
    ["an unknown key (typo)", GOOD.replace("telemetryIntervalS", "telemetryIntervalSecs"), /telemetryIntervalSecs: unknown key/],
    ["an unknown nested key", GOOD.replace("fps: 30", "fsp: 30"), /panel\.fsp: unknown key/],
    ["a bad pattern", GOOD.replace('"#000000"', '"black"'), /panel\.background: "black": expected a colour as #rrggbb/],
    ["a bad URL", GOOD.replace("mqtts://broker.example:8883", "broker.example"), /mqtt\.url: "broker.example": expected an mqtt/],
    ["a bad controller port", GOOD.replace("serial:///dev/ttyUSB0?baud=115200", "COM3"), /controller\.port: "COM3": expected a serial/],
    ["a driver without a port", GOOD.replace(', port: "serial:///dev/ttyUSB0?baud=115200"', ""), /controller\.port: missing: expected a port/],
    ["a relative data directory", GOOD.replace("dataDir: /var/lib/ledagent", "dataDir: ./data"), /dataDir: "\.\/data": expected an absolute path/],
    ["an unknown time zone", GOOD.replace("Asia/Shanghai", "Mars/Olympus"), /timezone: "Mars\/Olympus": expected an IANA time zone/],
    ["malformed YAML", "screenId: [unclosed\n", /not valid YAML at line/],
    ["a list at the top level", "- a\n- b\n", /expected a mapping of keys at the top level/],
  ])("rejects %s, naming key, value and expectation", (_what, text, pattern) => {
    expect(problem(text)).toMatch(pattern);
  });

  it("lists every problem at once", () => {
    const msg = problem(GOOD.replace("width: 768", "width: -1").replace("fit: contain", "fit: zoom"));
    expect(msg).toMatch(/panel\.width/);
    expect(msg).toMatch(/panel\.fit/);
  });

  it.each([
    ["a non-number for a number", { LEDAGENT_PANEL_WIDTH: "wide" }, /LEDAGENT_PANEL_WIDTH="wide": expected a decimal number for panel\.width/],
    ["a non-boolean for a boolean", { LEDAGENT_PLAYER_HEADLESS: "maybe" }, /LEDAGENT_PLAYER_HEADLESS="maybe": expected true or false/],
    ["an unknown variable", { LEDAGENT_PANEL_WIDHT: "5" }, /LEDAGENT_PANEL_WIDHT: not a config key/],
    ["a value the schema refuses", { LEDAGENT_PANEL_FPS: "500" }, /panel\.fps: 500: expected/],
  ])("rejects an override with %s", (_what, env, pattern) => {
    expect(problem(GOOD, env)).toMatch(pattern);
  });

  it("a missing file says so and how to make one", () => {
    expect(() => loadConfig("/nonexistent/ledagent.yaml", {})).toThrow(/no such file \(create one with `ledagent init`\)/);
  });

  it("reads a file from disk", () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, "c.yaml");
      writeFileSync(path, GOOD);
      expect(loadConfig(path, {}).screenId).toBe("sz-nanshan-001");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("config numbers are decimal", () => {
  it.each([
    ["hexadecimal", "0x300"],
    ["octal", "0o1400"],
    ["a leading zero (octal in YAML 1.1)", "0768"],
    ["an exponent", "7.68e2"],
    ["infinity", ".inf"],
    ["not a number", ".nan"],
    ["a plus sign", "+768"],
  ])("refuses %s in the file, naming key and value", (_what, spelling) => {
    expect(problem(GOOD.replace("width: 768", `width: ${spelling}`))).toMatch(
      new RegExp(`panel\\.width: ${spelling.replace(/[.+]/g, "\\$&")}: expected a decimal number`),
    );
  });

  it("refuses a non-decimal number nested in a list", () => {
    const text = GOOD.replace("controller: { driver: novastar,", "controller: { monitoredCards: [{ port: 0, board: 0x10 }], driver: novastar,");
    expect(problem(text)).toMatch(/controller\.monitoredCards\.0\.board: 0x10: expected a decimal number/);
  });

  it("refuses digits with underscores (a number in YAML 1.1, a string in 1.2)", () => {
    expect(problem(GOOD.replace("width: 768", "width: 1_000"))).toMatch(/panel\.width: "1_000": expected number/);
  });

  it.each([["0x300"], ["1e3"], ["Infinity"], ["1_000"], [" 768"], ["0768"], ["+768"]])("refuses %j in an override, naming variable, key and value", (raw) => {
    expect(problem(GOOD, { LEDAGENT_PANEL_WIDTH: raw })).toBe(`LEDAGENT_PANEL_WIDTH=${JSON.stringify(raw)}: expected a decimal number for panel.width`);
  });

  it("accepts plain decimals, negative and fractional where the schema allows them", () => {
    const c = parseConfig(GOOD.replace("output: { x: 0, y: 0 }", "output: { x: -1920, y: 0 }").replace("{ driver: novastar,", "{ temperatureLimitC: 70.5, driver: novastar,"), {});
    expect(c.player.output.x).toBe(-1920);
    expect(c.controller.temperatureLimitC).toBe(70.5);
    const env = { LEDAGENT_CONTROLLER_TEMPERATURE_LIMIT_C: "80.5", LEDAGENT_PLAYER_OUTPUT_X: "-10" };
    expect(parseConfig(GOOD, env).controller.temperatureLimitC).toBe(80.5);
    expect(parseConfig(GOOD, env).player.output.x).toBe(-10);
  });
});

describe("config path keys are absolute", () => {
  it.each([
    ["opsPublicKey", GOOD.replace("opsPublicKey: /etc/ledagent/ops.pub.pem", "opsPublicKey: ops.pub.pem"), /opsPublicKey: "ops\.pub\.pem": expected an absolute path/],
    ["mqtt.passwordFile", GOOD.replace('mqtt: { url: "mqtts://broker.example:8883" }', 'mqtt: { url: "mqtts://b:8883", passwordFile: "secret" }'), /mqtt\.passwordFile: "secret": expected an absolute path/],
    ["mqtt.ca", GOOD.replace('mqtt: { url: "mqtts://broker.example:8883" }', 'mqtt: { url: "mqtts://b:8883", ca: "ca.pem" }'), /mqtt\.ca: "ca\.pem": expected an absolute path/],
    ["mqtt.cert", GOOD.replace('mqtt: { url: "mqtts://broker.example:8883" }', 'mqtt: { url: "mqtts://b:8883", cert: "./c.pem" }'), /mqtt\.cert: "\.\/c\.pem": expected an absolute path/],
    ["mqtt.key", GOOD.replace('mqtt: { url: "mqtts://broker.example:8883" }', 'mqtt: { url: "mqtts://b:8883", key: "k.pem" }'), /mqtt\.key: "k\.pem": expected an absolute path/],
  ])("refuses a relative %s", (_key, text, pattern) => {
    expect(problem(text)).toMatch(pattern);
  });

  it("refuses a relative path given in an override", () => {
    expect(problem(GOOD, { LEDAGENT_OPS_PUBLIC_KEY: "ops.pem" })).toMatch(/opsPublicKey: "ops\.pem": expected an absolute path/);
  });
});

describe("the config file itself", () => {
  function loadProblem(path: string): string {
    try {
      loadConfig(path, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error("config was accepted");
  }

  it("refuses a directory", () => {
    const tmp = tempDir();
    try {
      expect(loadProblem(tmp.dir)).toBe(`config ${tmp.dir}: is a directory, not a regular file`);
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses a file over 1 MiB without reading it", () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, "huge.yaml");
      const fd = openSync(path, "w", 0o600);
      ftruncateSync(fd, 100 * 1024 * 1024); // sparse: 100 MB that costs no disk
      closeSync(fd);
      expect(loadProblem(path)).toBe(`config ${path}: is 104857600 bytes, more than the 1048576 allowed`);
    } finally {
      tmp.cleanup();
    }
  });

  it.each([["0664", 0o664], ["0646", 0o646], ["0666", 0o666]])("refuses a config of mode %s (writable by group or others), saying how to fix it", (_shown, mode) => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, "c.yaml");
      writeFileSync(path, GOOD);
      chmodSync(path, mode);
      expect(loadProblem(path)).toBe(`config ${path}: is writable by group or others (mode 0${mode.toString(8)}); fix with \`chmod go-w ${path}\``);
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses an ops public key writable by group or others, and accepts it once fixed", () => {
    const tmp = tempDir();
    try {
      const key = join(tmp.dir, "ops.pub.pem");
      writeFileSync(key, "-----BEGIN PUBLIC KEY-----\n");
      chmodSync(key, 0o664);
      const path = join(tmp.dir, "c.yaml");
      writeFileSync(path, GOOD.replace("/etc/ledagent/ops.pub.pem", key), { mode: 0o640 });
      expect(loadProblem(path)).toBe(`config ${path}: opsPublicKey: ${key}: is writable by group or others (mode 0664); fix with \`chmod go-w ${key}\``);
      chmodSync(key, 0o644);
      expect(loadConfig(path, {}).opsPublicKey).toBe(key);
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses a 0600 config in a 0777 directory, where anyone could rename their own config over it", () => {
    const tmp = tempDir();
    try {
      const open = join(tmp.dir, "etc");
      mkdirSync(open);
      chmodSync(open, 0o777);
      const path = join(open, "c.yaml");
      writeFileSync(path, GOOD, { mode: 0o600 });
      expect(loadProblem(path)).toBe(
        `config ${path}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
      );
    } finally {
      tmp.cleanup();
    }
  });

  it("refuses an ops public key in a 0777 directory", () => {
    const tmp = tempDir();
    try {
      const open = join(tmp.dir, "keys");
      mkdirSync(open);
      chmodSync(open, 0o777);
      const key = join(open, "ops.pub.pem");
      writeFileSync(key, "-----BEGIN PUBLIC KEY-----\n", { mode: 0o644 });
      const path = join(tmp.dir, "c.yaml");
      writeFileSync(path, GOOD.replace("/etc/ledagent/ops.pub.pem", key), { mode: 0o640 });
      expect(loadProblem(path)).toBe(
        `config ${path}: opsPublicKey: ${key}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\``,
      );
    } finally {
      tmp.cleanup();
    }
  });

  // Only root can give a file to another user, so as anyone else this cannot be set up.
  it.skipIf(process.getuid?.() !== 0)("refuses a 0640 config or ops key owned by nobody, who could point opsPublicKey at their own key (needs root)", () => {
    const tmp = tempDir();
    try {
      const key = join(tmp.dir, "ops.pub.pem");
      writeFileSync(key, "-----BEGIN PUBLIC KEY-----\n", { mode: 0o644 });
      const path = join(tmp.dir, "c.yaml");
      writeFileSync(path, GOOD.replace("/etc/ledagent/ops.pub.pem", key), { mode: 0o640 });
      chownSync(path, 65534, 0);
      expect(loadProblem(path)).toBe(
        `config ${path}: is owned by uid 65534, not by root (the user the agent runs as), so uid 65534 can rewrite it; fix with \`chown root:root ${path}\``,
      );
      chownSync(path, 0, 0);
      chownSync(key, 65534, 0);
      expect(loadProblem(path)).toBe(
        `config ${path}: opsPublicKey: ${key}: is owned by uid 65534, not by root (the user the agent runs as), so uid 65534 can rewrite it; fix with \`chown root:root ${key}\``,
      );
      chownSync(key, 0, 0);
      expect(loadConfig(path, {}).opsPublicKey).toBe(key);
    } finally {
      tmp.cleanup();
    }
  });

  it("accepts a config under a directory created for it (0644 and 0600 both fine)", () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.dir, "etc"), { mode: 0o755 }); // a umask of 002 must not make it group-writable
      chmodSync(join(tmp.dir, "etc"), 0o755);
      const path = join(tmp.dir, "etc", "c.yaml");
      writeFileSync(path, GOOD, { mode: 0o600 });
      expect(loadConfig(path, {}).screenId).toBe("sz-nanshan-001");
      chmodSync(path, 0o644);
      expect(loadConfig(path, {}).screenId).toBe("sz-nanshan-001");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("the shipped example config", () => {
  it("loads as it is", () => {
    const c = loadConfig(join(import.meta.dirname, "..", "deploy", "config.example.yaml"), {});
    expect(c.screenId).toBe("sz-nanshan-001");
    expect(c.controller.driver).toBe("novastar");
  });
});

describe("runDir length", () => {
  it("a runDir whose sockets would not fit a unix socket path is a config error naming the key", () => {
    const long = `/tmp/${"d".repeat(90)}`;
    expect(() => validateConfig({ screenId: "s1", panel: { width: 64, height: 32 }, runDir: long })).toThrow(/runDir: .*at most 88 bytes, so that the sockets in it fit a unix socket path/);
    expect(validateConfig({ screenId: "s1", panel: { width: 64, height: 32 }, runDir: `/tmp/${"d".repeat(83)}` }).runDir).toHaveLength(88);
  });
});
