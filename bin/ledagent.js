#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/ (built by `npm test`, `npm start` or `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/agent/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("ledagent: not built yet; run `npm run build` (or `npm test` / `npm start`, which set everything up)");
  process.exit(1);
}
await import(cli.href);
