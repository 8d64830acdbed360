import type { Command } from "commander";

export function registerScheduleCommands(_program: Command): void {
  // filled in by the schedule work
}
