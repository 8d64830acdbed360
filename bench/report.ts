// One printed line per figure: `area: figure = value unit (detail)`, so runs diff line by line.
export interface BenchReport {
  figure(area: string, name: string, value: number, unit: string, detail?: string): void;
}

export function consoleReport(): BenchReport {
  return {
    figure(area, name, value, unit, detail) {
      const shown = Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 0 : value >= 1 ? 2 : 4);
      console.log(`${area}: ${name} = ${shown} ${unit}${detail ? ` (${detail})` : ""}`);
    },
  };
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
