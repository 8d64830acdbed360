import type { Command } from "commander";

export function registerInitCommands(_program: Command): void {}
