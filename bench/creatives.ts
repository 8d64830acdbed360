import type { BenchReport } from "./report.js";

export async function bench(_report: BenchReport): Promise<void> {
  // filled in by the creatives work
}
