#!/usr/bin/env node
// Brings a fresh checkout to a runnable state, and says nothing when it already is:
//  1. as root, the Debian packages the agent and its tests use (ffmpeg, mpv, mosquitto, socat,
//     and systemd's analyzer for the unit's test);
//  2. node_modules matching package-lock.json (npm ci, skipped while the lock is unchanged);
//  3. dist/ built from the current sources (tsc, skipped while nothing is newer than the build).
// Plain Node only: it runs before any dependency is installed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
// --build-only: just step 3 (the test runner's global setup uses it).
const buildOnly = process.argv.includes("--build-only");

function say(line) {
  if (!quiet) console.error(`setup: ${line}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], ...opts });
  if (r.status !== 0) {
    console.error(`setup: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function onPath(bin) {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .concat(["/usr/sbin", "/sbin"])
    .some((d) => d && existsSync(join(d, bin)));
}

// 1. System packages: binary → Debian package.
function installSystemPackages() {
  const needed = { ffmpeg: "ffmpeg", ffprobe: "ffmpeg", mpv: "mpv", mosquitto: "mosquitto", socat: "socat", "systemd-analyze": "systemd" };
  const missing = [...new Set(Object.entries(needed).filter(([bin]) => !onPath(bin)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  if (process.getuid?.() === 0 && onPath("apt-get")) {
    say(`installing Debian packages: ${missing.join(" ")}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update", "-qq"], { env });
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env, stdio: ["ignore", "ignore", "inherit"] });
  } else {
    console.error(
      `setup: missing ${missing.join(", ")}; install them (as root: apt-get install ${missing.join(" ")}); ` +
        "the parts that need them will fail until then",
    );
  }
}

// 2. Dependencies, keyed on the lock file's hash.
function installDependencies() {
  const lock = join(root, "package-lock.json");
  const stamp = join(root, "node_modules", ".ledagent-lock-sha256");
  const lockHash = createHash("sha256").update(readFileSync(lock)).digest("hex");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === lockHash) return;
  say("installing npm dependencies (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
  writeFileSync(stamp, lockHash);
}

if (!buildOnly) {
  installSystemPackages();
  installDependencies();
}

// 3. Build when any source is newer than the last build.
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const built = join(root, "dist", ".built");
const sourcesAt = Math.max(
  newest(join(root, "agent")),
  newest(join(root, "bench")),
  statSync(join(root, "tsconfig.json")).mtimeMs,
  statSync(join(root, "tsconfig.build.json")).mtimeMs,
);
if (!existsSync(built) || statSync(built).mtimeMs < sourcesAt) {
  say("building (tsc)");
  run("npx", ["tsc", "-p", "tsconfig.build.json"]);
  writeFileSync(built, new Date().toISOString());
}
