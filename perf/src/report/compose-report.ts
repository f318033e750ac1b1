import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { markdownReport, markdownTable, targetResult } from './markdown-report.ts';
import type { ScenarioReport } from './model.ts';
import { chartFileName } from './write-report.ts';

/** The scenarios of the suite, in the order the combined report shows them. */
export const SUITE_ORDER = [
  'encrypt',
  'decrypt',
  'both',
  'scaling',
  'budget',
  'idle',
  'qos-reorder',
  'postmessage',
] as const;

export interface ComposeOptions {
  /** Where the scenarios wrote their JSON and SVG files (perf/results/). */
  readonly resultsDir: string;
  /** The combined report's path (perf/REPORT.md) and the folder its charts are copied to. */
  readonly reportPath: string;
  readonly assetsDir: string;
  /** Text placed after the title: how the figures were made and how to read them. */
  readonly preface: string;
  /** What the figures say, placed after the targets (optional). */
  readonly findings?: string;
}

export function readReports(resultsDir: string): ScenarioReport[] {
  const reports: ScenarioReport[] = [];
  for (const name of SUITE_ORDER) {
    const path = join(resultsDir, `${name}.json`);
    if (existsSync(path)) reports.push(JSON.parse(readFileSync(path, 'utf8')) as ScenarioReport);
  }
  return reports;
}

/**
 * One Markdown document from the latest run of each scenario: a summary of every target, the commands
 * that made the figures, then each scenario's own report as a section. Its charts are copied next to it.
 * Returns the document.
 */
export function composeReport(reports: readonly ScenarioReport[], o: ComposeOptions): string {
  mkdirSync(o.assetsDir, { recursive: true });
  const assetLink = relative(join(o.reportPath, '..'), o.assetsDir);
  const targets = reports.flatMap((r) =>
    r.targets.map((t) => [
      r.scenario,
      t.name,
      t.measured.toFixed(2),
      `>= ${t.required.toFixed(2)}`,
      targetResult(t),
      t.inconclusive === undefined ? t.detail : `${t.detail}; ${t.inconclusive}`,
    ]),
  );
  const machines = [
    ...new Set(
      reports.map(
        (r) =>
          `${r.machine.cpu}, ${r.machine.cores} cores online, node ${r.machine.node} (OpenSSL ${r.machine.nodeOpenssl})`,
      ),
    ),
  ];
  const out: string[] = [
    '# Espresso performance report',
    '',
    o.preface.trim(),
    '',
    `Machine: ${machines.join('; ')}.`,
    '',
    '## Targets',
    '',
    targets.length === 0
      ? 'No targets were evaluated (the runs skipped their references).'
      : markdownTable(['scenario', 'target', 'measured', 'required', 'result', 'how'], targets),
    '',
    ...(o.findings === undefined ? [] : ['## What the figures say', '', o.findings.trim(), '']),
    '## Commands',
    '',
    'From the repository root, each writes perf/results/<scenario>.{json,md,svg}; `npm run bench -- report` then rebuilds this file from them.',
    '',
    '```sh',
    ...reports.map((r) => r.command),
    'npm run bench -- report',
    '```',
    '',
  ];
  for (const report of reports) {
    for (const chart of report.charts) {
      const file = chartFileName(report.scenario, chart.id);
      const from = join(o.resultsDir, file);
      if (existsSync(from)) copyFileSync(from, join(o.assetsDir, file));
    }
    out.push(markdownReport(report, (id) => `${assetLink}/${chartFileName(report.scenario, id)}`, 2));
  }
  const text = out.join('\n');
  writeFileSync(o.reportPath, text.endsWith('\n') ? text : `${text}\n`);
  return text;
}
