// A bad config names the key, the value and what is expected: one test per class of mistake.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, envName, loadConfig, parseConfig } from "../agent/config.js";
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
    ["a non-number for a number", { LEDAGENT_PANEL_WIDTH: "wide" }, /LEDAGENT_PANEL_WIDTH="wide": expected a number for panel\.width/],
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

describe("the shipped example config", () => {
  it("loads as it is", () => {
    const c = loadConfig(join(import.meta.dirname, "..", "deploy", "config.example.yaml"), {});
    expect(c.screenId).toBe("sz-nanshan-001");
    expect(c.controller.driver).toBe("novastar");
  });
});
