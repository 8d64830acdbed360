#!/usr/bin/env node
// `npm run package`: the release tarball that deploy/install.sh installs on a screen's PC.
//
//   release/ledagent-<version>-linux-<arch>-node<ABI>.tar.gz
//
// The native modules (better-sqlite3, @serialport/bindings-cpp, the optional unix-dgram) are
// shipped as this checkout built them, so the tarball only runs where the Node ABI and the CPU
// architecture are the ones it was made with: build it on a machine like the target (same arch,
// same Node major version), which is what its name says. Nothing is recompiled here: the
// checkout's node_modules is copied, production packages only, without build intermediates.
//
// Options: --out DIR puts the tarball in DIR instead of release/; --no-build packages dist/ as it
// is (for a caller that has just built it).
//
// Plain Node, no dependencies.
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const abi = process.versions.modules;
const arch = process.arch;
const name = `ledagent-${pkg.version}-linux-${arch}-node${abi}`;

// What a release holds besides dist/ and node_modules/: the CLI's entry point, the unit, the
// installer and examples, the documentation, and package.json (the CLI reads its version there).
const SHIPPED = ["bin", "systemd", "deploy", "docs", "README.md", "package.json", "package-lock.json"];
// Never in a release, whatever the dependency tree says (a test of the staged tree, not a filter).
const DEV_TOOLS = ["typescript", "vitest", "eslint", "fast-check", "@eslint", "typescript-eslint"];

// Thrown, not exited on, so that the staging directory and a partial tarball are cleaned up.
class PackageError extends Error {}

function fail(message) {
  throw new PackageError(message);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.error) fail(`\`${cmd} ${args.join(" ")}\`: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || "").trim().split("\n").slice(-3).join(" / ");
    fail(`\`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})${why ? `: ${why}` : ""}`);
  }
  return r.stdout;
}

/** dist/ from the current sources; the project's own setup decides whether tsc must run again. */
function build() {
  const r = spawnSync(process.execPath, [join(root, "scripts", "setup.mjs"), "--build-only", "--quiet"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) fail("the build failed (see above)");
}

/**
 * dist/agent only (dist/bench is the benchmark rig, nothing at run time imports it), and only
 * outputs whose source still exists: tsc never deletes the output of a removed source file.
 */
function copyAgentBuild(stage) {
  const from = join(root, "dist", "agent");
  cpSync(from, join(stage, "dist", "agent"), {
    recursive: true,
    filter: (src) => {
      if (statSync(src).isDirectory()) return true;
      const rel = relative(from, src);
      const source = rel.replace(/\.js(\.map)?$/, ".ts");
      return source !== rel && existsSync(join(root, "agent", source));
    },
  });
}

/** Paths (relative to the checkout) of every package the agent needs at run time. */
function productionPackages() {
  const out = run("npm", ["ls", "--omit=dev", "--all", "--parseable"]);
  const paths = out
    .split("\n")
    .filter(Boolean)
    .map((p) => relative(root, p))
    .filter((p) => p !== "" && !p.startsWith(".."));
  // Type declarations some runtime packages list as dependencies: never loaded at run time.
  return new Set(paths.filter((p) => !/(^|\/)node_modules\/@types\//.test(p)));
}

// "node_modules/a/node_modules/@s/b/src/x.cc" → ["node_modules/a/node_modules/@s/b", "src/x.cc"]
const PACKAGE_PATH = /^(.*node_modules\/(?:@[^/]+\/)?[^/.@][^/]*)(?:\/(.*))?$/;

/**
 * Inside a package with a native addon, what is needed at run time is the compiled .node file:
 * the sources, the build tree (makefiles and gyp config that name this machine's paths, object
 * files) and the prebuilt binaries of other platforms are left out.
 */
function keepInsideNativePackage(inner) {
  const parts = inner.split("/");
  if (parts[0] === "src" || parts[0] === "deps") return false;
  if (parts[0] === "build") {
    if (parts.length === 1) return true;
    if (parts[1] !== "Release") return false;
    if (parts.length === 2) return true;
    return parts.length === 3 && parts[2].endsWith(".node") && !parts[2].startsWith("test_");
  }
  if (parts[0] === "prebuilds" && parts.length > 1) return parts[1].startsWith(`linux-${arch}`);
  return true;
}

// Files no package loads at run time: type declarations, source maps, TypeScript sources (Node
// does not run them), documentation other than licences.
const NOT_RUNTIME_FILE = /(\.d\.[cm]?ts|\.map|\.[cm]?ts|\.md|\.markdown)$/i;
const LICENCE = /^(licen[cs]e|copying|notice)/i;
// Directories at a package's top that only its own development uses.
const NOT_RUNTIME_DIR = new Set(["test", "tests", "__tests__", "coverage", ".github", "benchmark", "benchmarks", "example", "examples"]);

function keepInsidePackage(inner, isDir) {
  const parts = inner.split("/");
  if (parts.length === 1 && isDir && NOT_RUNTIME_DIR.has(parts[0])) return false;
  const name = parts[parts.length - 1];
  return isDir || LICENCE.test(name) || !NOT_RUNTIME_FILE.test(name);
}

function copyProductionModules(stage) {
  const prod = productionPackages();
  const native = new Map();
  const isNative = (pkgPath) => {
    if (!native.has(pkgPath)) native.set(pkgPath, existsSync(join(root, pkgPath, "binding.gyp")));
    return native.get(pkgPath);
  };
  cpSync(join(root, "node_modules"), join(stage, "node_modules"), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = relative(root, src).split(sep).join("/");
      const name = basename(rel);
      const parent = basename(dirname(rel));
      if (name === "node_modules") return true;
      // npm's own bookkeeping and the tools' links (.bin, .package-lock.json, caches, stamps).
      if (name.startsWith(".") && (parent === "node_modules" || parent.startsWith("@"))) return false;
      if (parent === "node_modules" && name.startsWith("@")) return [...prod].some((p) => p.startsWith(`${rel}/`));
      const m = PACKAGE_PATH.exec(rel);
      if (!m) return false;
      const [, pkgPath, inner] = m;
      if (!prod.has(pkgPath)) return false;
      if (inner === undefined) return true;
      if (!keepInsidePackage(inner, statSync(src).isDirectory())) return false;
      return !isNative(pkgPath) || keepInsideNativePackage(inner);
    },
  });
}

function glibcVersion() {
  return process.report?.getReport?.().header?.glibcVersionRuntime ?? null;
}

function gitCommit() {
  const r = spawnSync("git", ["describe", "--always", "--dirty=+dirty", "--abbrev=12"], { cwd: root, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function writeManifest(stage) {
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    platform: "linux",
    arch,
    nodeAbi: abi,
    nodeVersion: process.version,
    // The native addons link against the C library they were built with: an older one on the
    // target would refuse to load them.
    glibc: glibcVersion(),
    // Which sources: the commit, "+dirty" when the checkout had changes (null outside git).
    commit: gitCommit(),
  };
  writeFileSync(join(stage, "release.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The staged release must run on its own: its native modules load and its CLI answers. */
function verify(stage) {
  // Node looks for packages in every parent directory: one above the stage would hide a missing one.
  for (let d = dirname(stage); ; d = dirname(d)) {
    if (existsSync(join(d, "node_modules"))) fail(`${join(d, "node_modules")} exists above the staging directory; it would mask missing packages (set TMPDIR elsewhere)`);
    if (d === dirname(d)) break;
  }
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: stage, NODE_PATH: "" };
  // Every dependency loads from the stage as it is (nothing it needs was left out), and each
  // native addon answers.
  const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}).filter((d) => existsSync(join(stage, "node_modules", d)))];
  const load = [
    `for (const d of ${JSON.stringify(deps)}) await import(d).catch((e) => { console.error(d + ": " + e.message); process.exit(1); });`,
    "const require = (await import('node:module')).createRequire(process.cwd() + '/');",
    "const Database = require('better-sqlite3');",
    "if (new Database(':memory:').prepare('select 1 as x').get().x !== 1) throw new Error('better-sqlite3 answered wrongly');",
    "require('@serialport/bindings-cpp');",
    `if (${JSON.stringify(deps)}.includes('unix-dgram')) require('unix-dgram');`,
  ].join("\n");
  run(process.execPath, ["--input-type=module", "-e", load], { cwd: stage, env });
  const version = run(process.execPath, ["bin/ledagent.js", "--version"], { cwd: stage, env }).trim();
  if (version !== pkg.version) fail(`the staged CLI says its version is ${JSON.stringify(version)}, not ${pkg.version}`);
  for (const tool of DEV_TOOLS) {
    if (existsSync(join(stage, "node_modules", tool))) fail(`the release would include the dev tool ${tool}`);
  }
  if (existsSync(join(stage, "dist", "test")) || existsSync(join(stage, "test"))) fail("the release would include the tests");
  // Nothing may name this machine: build trees record absolute paths, and a release is copied to
  // other machines. (root's home is /root on every machine, and the docs may name it.)
  const local = [root, homedir()].filter((p) => p !== "/" && p !== "/root").map((p) => Buffer.from(p));
  const scan = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) scan(p);
      else if (e.isFile()) {
        const bytes = readFileSync(p);
        const hit = local.find((l) => bytes.includes(l));
        if (hit) fail(`${relative(stage, p)} names ${hit.toString()}, a path of the machine that built it`);
      }
    }
  };
  scan(stage);
}

function sizeText(bytes) {
  return bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function main() {
  if (process.platform !== "linux") fail(`releases are for Linux; this is ${process.platform}`);
  if (!existsSync(join(root, "node_modules"))) fail("no node_modules: run `npm ci` (or `npm test`, which sets everything up) first");
  // --out DIR: where the tarball goes (release/ by default).
  const out = process.argv.indexOf("--out");
  if (out !== -1 && !process.argv[out + 1]) fail("--out needs a directory");
  const outDir = out === -1 ? join(root, "release") : resolve(process.argv[out + 1]);
  // --no-build: dist/ as it is, for a caller that has just built it (the test suite's setup).
  if (!process.argv.includes("--no-build")) build();
  // Outside the checkout: Node would otherwise find the checkout's node_modules from the stage.
  const work = mkdtempSync(join(tmpdir(), "ledagent-package-"));
  const tarball = join(outDir, `${name}.tar.gz`);
  const partial = `${tarball}.partial`;
  try {
    const stage = join(work, name);
    mkdirSync(stage);
    for (const entry of SHIPPED) cpSync(join(root, entry), join(stage, entry), { recursive: true });
    copyAgentBuild(stage);
    copyProductionModules(stage);
    writeManifest(stage);
    verify(stage);
    mkdirSync(outDir, { recursive: true });
    // Owned by root, readable by all, in a stable order: what the installer unpacks as root.
    run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mode=u+rwX,go+rX,go-w", "-czf", partial, "-C", work, name]);
    renameSync(partial, tarball);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
  const shown = relative(process.cwd(), tarball);
  console.log(`${shown.startsWith("..") ? tarball : shown} (${sizeText(statSync(tarball).size)})`);
}

try {
  main();
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  console.error(`package: ${err.message}`);
  process.exitCode = 1;
}
