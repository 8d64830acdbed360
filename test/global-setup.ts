// Integration tests spawn the built CLI and workers from dist/: build it when sources changed.
// `npm test` has already built (and failed loudly on errors); here a failed build only warns, so
// that unit tests still run while someone is mid-edit.
import { spawnSync } from "node:child_process";

export default function setup(): void {
  const r = spawnSync(process.execPath, ["scripts/setup.mjs", "--build-only", "--quiet"], { stdio: "inherit" });
  if (r.status !== 0) console.warn("global setup: the build failed; tests that run dist/ will fail too");
}
