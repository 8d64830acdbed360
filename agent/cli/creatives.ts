import type { Command } from "commander";

export function registerCreativesCommands(_program: Command): void {
  // filled in by the creatives work
}
