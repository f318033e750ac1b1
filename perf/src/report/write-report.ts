import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownReport } from './markdown-report.ts';
import type { ScenarioReport } from './model.ts';
import { chartSvg } from './svg-chart.ts';

/** perf/results/, which git ignores. */
export const RESULTS_DIR = new URL('../../results/', import.meta.url).pathname;

/** JSON with bigints as decimal strings. */
export function reportJson(report: ScenarioReport): string {
  return `${JSON.stringify(report, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

export function chartFileName(scenario: string, id: string): string {
  return `${scenario}-${id}.svg`;
}

/**
 * Writes `<scenario>.json`, `<scenario>.md` and one `<scenario>-<chart>.svg` per chart into `dir`
 * (perf/results/ by default), replacing the previous run's. Returns the paths written.
 */
export function writeReport(report: ScenarioReport, dir = RESULTS_DIR): string[] {
  if (!/^[a-z0-9-]+$/.test(report.scenario)) throw new RangeError(`scenario name '${report.scenario}'`);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    written.push(path);
  };
  for (const chart of report.charts) {
    if (!/^[a-z0-9-]+$/.test(chart.id)) throw new RangeError(`chart id '${chart.id}'`);
    write(chartFileName(report.scenario, chart.id), chartSvg(chart));
  }
  write(`${report.scenario}.json`, reportJson(report));
  write(
    `${report.scenario}.md`,
    markdownReport(report, (id) => chartFileName(report.scenario, id)),
  );
  return written;
}
