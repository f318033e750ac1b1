import { formatTable } from '../lib/table.ts';
import type { ScenarioReport, TargetResult } from './model.ts';

/** A table cell: pipes would split the cell, newlines the row. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return formatTable(
    header.map(cell),
    rows.map((r) => r.map(cell)),
  );
}

export function targetRows(targets: readonly TargetResult[]): string[][] {
  return targets.map((t) => [
    t.name,
    t.measured.toFixed(2),
    `>= ${t.required.toFixed(2)}`,
    targetResult(t),
    t.inconclusive === undefined ? t.detail : `${t.detail}; ${t.inconclusive}`,
  ]);
}

/** pass, miss, or inconclusive when the run could not tell. */
export function targetResult(t: TargetResult): string {
  return t.inconclusive !== undefined ? 'inconclusive' : t.pass ? 'pass' : 'miss';
}

export const TARGET_HEADER = ['target', 'measured', 'required', 'result', 'how'] as const;

/**
 * The Markdown report of one run: what was run and on what, the targets, every table, the charts (as
 * images, `chartFile(id)` names them) and the notes. `level` is the heading level of its title (2 and
 * up when it is a section of a larger document).
 */
export function markdownReport(report: ScenarioReport, chartFile: (id: string) => string, level = 1): string {
  const m = report.machine;
  const h = '#'.repeat(level);
  const sub = `${h}#`;
  const out: string[] = [
    `${h} ${report.title}`,
    '',
    report.description,
    '',
    `- command: \`${report.command}\``,
    `- started: ${report.startedAt}`,
    `- machine: ${m.cpu}, ${m.cores} cores online; load average ${m.loadStart.toFixed(2)} at the start, ${m.loadEnd.toFixed(2)} at the end`,
    `- node ${m.node} (its OpenSSL ${m.nodeOpenssl}); CLI ${m.opensslCli}`,
    `- options: ${Object.entries(report.options)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')}`,
    '',
  ];
  if (report.targets.length > 0) {
    out.push(`${sub} Targets`, '', table(TARGET_HEADER, targetRows(report.targets)), '');
  }
  for (const t of report.tables) out.push(`${sub} ${t.title}`, '', table(t.header, t.rows), '');
  if (report.charts.length > 0) {
    out.push(`${sub} Charts`, '');
    for (const c of report.charts) out.push(`![${c.title.replaceAll(']', ')')}](${chartFile(c.id)})`, '');
  }
  if (report.notes.length > 0) {
    out.push(`${sub} Notes`, '');
    for (const note of report.notes) out.push(`- ${note}`);
    out.push('');
  }
  return out.join('\n');
}

/** A Markdown table whose cells may hold pipes. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return table(header, rows);
}
