import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { composeReport, readReports } from './compose-report.ts';
import type { ScenarioReport } from './model.ts';
import { writeReport } from './write-report.ts';

function fakeReport(scenario: string, pass: boolean): ScenarioReport {
  return {
    scenario,
    title: `${scenario} title`,
    description: 'd',
    command: `npm run bench -- ${scenario} --seconds 1`,
    startedAt: '2026-01-01T00:00:00.000Z',
    machine: {
      cpu: 'cpu',
      cores: 2,
      node: 'v26',
      nodeOpenssl: '3.5',
      opensslCli: 'OpenSSL 3.0',
      loadStart: 1,
      loadEnd: 1,
    },
    options: {},
    tables: [{ title: 'T', header: ['a'], rows: [['1']] }],
    charts: [
      {
        kind: 'bar',
        id: 'rates',
        title: 'R',
        yLabel: 'y',
        categories: ['c'],
        series: [{ name: 's', values: [1] }],
      },
    ],
    targets: [{ name: `${scenario} target`, measured: pass ? 2 : 0.5, required: 1, pass, detail: 'x / y' }],
    notes: [],
    data: {},
  };
}

test('the combined report lists every target and command, in suite order, with its charts copied beside it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-compose-'));
  try {
    const results = join(dir, 'results');
    mkdirSync(results);
    // Written out of order, and one file that is not a suite scenario.
    writeReport(fakeReport('postmessage', true), results);
    writeReport(fakeReport('encrypt', false), results);
    writeReport(fakeReport('demo', true), results);
    const reports = readReports(results);
    assert.deepEqual(
      reports.map((r) => r.scenario),
      ['encrypt', 'postmessage'],
    );
    const reportPath = join(dir, 'REPORT.md');
    const assets = join(dir, 'report-assets');
    composeReport(reports, {
      resultsDir: results,
      reportPath,
      assetsDir: assets,
      preface: 'How to read.',
      findings: 'What it says.',
    });
    const md = readFileSync(reportPath, 'utf8');
    assert.ok(md.startsWith('# Espresso performance report\n\nHow to read.'));
    assert.ok(md.indexOf('## Targets') < md.indexOf('## What the figures say\n\nWhat it says.'));
    assert.ok(md.indexOf('## encrypt title') < md.indexOf('## postmessage title'));
    assert.match(md, /\| postmessage \| postmessage target \| 2\.00 +\| >= 1\.00 +\| pass/);
    assert.match(md, /\| encrypt +\| encrypt target +\| 0\.50 +\| >= 1\.00 +\| miss/);
    assert.ok(
      md.includes(
        'npm run bench -- encrypt --seconds 1\nnpm run bench -- postmessage --seconds 1\nnpm run bench -- report',
      ),
    );
    for (const s of ['encrypt', 'postmessage']) {
      assert.ok(md.includes(`](report-assets/${s}-rates.svg)`));
      assert.ok(existsSync(join(assets, `${s}-rates.svg`)));
    }
    assert.ok(!md.includes('demo'));
    // Section headings sit one level below the title.
    assert.ok(md.includes('\n### Targets\n') && !md.includes('\n# encrypt title'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
