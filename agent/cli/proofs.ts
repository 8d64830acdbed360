import type { Command } from "commander";

export function registerProofsCommands(_program: Command): void {}
