import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ScenarioReport } from './model.ts';
import { barChartSvg, escapeXml, lineChartSvg, ticks } from './svg-chart.ts';
import { writeReport } from './write-report.ts';

const NUMERIC = new Set([
  'x',
  'y',
  'x1',
  'y1',
  'x2',
  'y2',
  'width',
  'height',
  'cx',
  'cy',
  'r',
  'stroke-width',
  'font-size',
]);

/**
 * A small XML checker: tags nest and close, attributes are quoted and unique, text has no bare `<` or
 * `&`, and every geometric attribute and path coordinate is a finite number. Returns the element names.
 */
function checkXml(text: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    const m = token.exec(text);
    assert.ok(m !== null, `not well-formed at ${at}: ${text.slice(at, at + 40)}`);
    at = token.lastIndex;
    const [, closing, name, attrs, selfClosing, content] = m;
    if (content !== undefined) {
      assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(content), `bare & in ${content}`);
      continue;
    }
    if (closing === '/') {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
      continue;
    }
    names.push(name!);
    const seen = new Set<string>();
    for (const a of attrs!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.ok(!seen.has(a[1]!), `duplicate attribute ${a[1]} on <${name}>`);
      seen.add(a[1]!);
      if (NUMERIC.has(a[1]!)) assert.ok(Number.isFinite(Number(a[2])), `<${name} ${a[1]}="${a[2]}">`);
      if (a[1] === 'd') {
        for (const num of a[2]!.split(/[ML ]+/).filter(Boolean))
          assert.ok(Number.isFinite(Number(num)), `path ${num}`);
      }
      assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(a[2]!), `bare & in attribute ${a[1]}`);
    }
    if (selfClosing !== '/') stack.push(name!);
  }
  assert.deepEqual(stack, [], 'elements left open');
  assert.equal(names[0], 'svg');
  return names;
}

function pythonParses(svg: string): boolean {
  const run = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import sys, xml.etree.ElementTree as ET; r = ET.fromstring(sys.stdin.read()); print(r.tag)'],
    { input: svg, encoding: 'utf8' },
  );
  return run.status === 0 && run.stdout.trim() === '{http://www.w3.org/2000/svg}svg';
}

test('a bar chart is well-formed SVG with one bar per value and the reference line', () => {
  const svg = barChartSvg({
    kind: 'bar',
    id: 'rates',
    title: 'Packets <per> second & "ratio"',
    yLabel: 'packets/s',
    categories: ['1 worker', '2 workers'],
    series: [
      { name: 'pipeline', values: [1.2e6, 2.1e6] },
      { name: "openssl's", values: [2e6, 3.9e6] },
    ],
    reference: { label: 'target', value: 1.6e6 },
  });
  const names = checkXml(svg);
  assert.equal(names.filter((x) => x === 'rect').length, 1 + 4 + 2);
  assert.ok(svg.includes('Packets &lt;per&gt; second &amp; &quot;ratio&quot;'));
  assert.ok(svg.includes('stroke-dasharray'));
  assert.ok(pythonParses(svg));
});

test('values that are not finite never reach the SVG as NaN or Infinity', () => {
  const bar = barChartSvg({
    kind: 'bar',
    id: 'x',
    title: 't',
    yLabel: 'y',
    categories: ['a', 'b', 'c'],
    series: [{ name: 's', values: [Number.NaN, Number.POSITIVE_INFINITY, -3] }],
  });
  const line = lineChartSvg({
    kind: 'line',
    id: 'y',
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    logX: true,
    series: [
      {
        name: 'a',
        points: [
          [1, 5],
          [2, Number.NaN],
          [4, 7],
          [0, 3],
        ],
      },
      { name: 'empty', points: [] },
    ],
  });
  for (const svg of [bar, line]) {
    assert.ok(!/NaN|Infinity/.test(svg));
    checkXml(svg);
    assert.ok(pythonParses(svg));
  }
  // The log axis drops x = 0 and the NaN point: two points remain, joined by one path.
  assert.equal((line.match(/<circle/g) ?? []).length, 2);
  assert.equal((line.match(/<path/g) ?? []).length, 1);
});

test('axis ticks are round numbers that cover the maximum', () => {
  assert.deepEqual(ticks(9.3), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(ticks(0), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.ok(ticks(3.7e6).at(-1)! >= 3.7e6);
  assert.equal(escapeXml(`<a & 'b'>`), '&lt;a &amp; &apos;b&apos;&gt;');
});

test('the written report: JSON that parses back, Markdown tables with whole rows, and the chart files it links', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-report-'));
  try {
    const report: ScenarioReport = {
      scenario: 'demo',
      title: 'Demo | run',
      description: 'What it measures.',
      command: 'npm run bench -- demo --workers 2',
      startedAt: '2026-01-01T00:00:00.000Z',
      machine: {
        cpu: 'cpu',
        cores: 2,
        node: 'v26',
        nodeOpenssl: '3.5',
        opensslCli: 'OpenSSL 3.0',
        loadStart: 1,
        loadEnd: 2,
      },
      options: { workers: 2, idle: 'doorbell' },
      tables: [
        {
          title: 'Rates',
          header: ['what', 'rate'],
          rows: [
            ['a|b', '1 M/s'],
            ['c', '2 M/s'],
          ],
        },
      ],
      charts: [
        {
          kind: 'bar',
          id: 'rate',
          title: 'Rate',
          yLabel: 'p/s',
          categories: ['a'],
          series: [{ name: 's', values: [1] }],
        },
        {
          kind: 'line',
          id: 'scaling',
          title: 'Scaling',
          xLabel: 'w',
          yLabel: 'p/s',
          series: [
            {
              name: 's',
              points: [
                [1, 1],
                [2, 2],
              ],
            },
          ],
        },
      ],
      targets: [
        { name: 'rings vs postMessage', measured: 12.5, required: 10, pass: true, detail: 'a / b' },
        { name: 'scaling', measured: 0.5, required: 0.9, pass: false, detail: 'c / d' },
      ],
      notes: ['shared machine'],
      data: { big: 5n },
    };
    const written = writeReport(report, dir);
    assert.equal(written.length, 4);
    const json = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8'));
    assert.equal(json.data.big, '5');
    assert.equal(json.targets[1].pass, false);
    const md = readFileSync(join(dir, 'demo.md'), 'utf8');
    for (const id of ['rate', 'scaling']) {
      assert.ok(md.includes(`](demo-${id}.svg)`));
      const svg = readFileSync(join(dir, `demo-${id}.svg`), 'utf8');
      checkXml(svg);
      assert.ok(pythonParses(svg));
    }
    assert.ok(md.includes('| pass') && md.includes('| miss'));
    // Every table row has as many cells as its header (an escaped pipe does not split a cell).
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    const widths = new Set(
      rows.filter((l) => l.includes('what') || l.includes('a\\|b') || l.startsWith('| c ')).map(cells),
    );
    assert.equal(widths.size, 1);
    assert.ok(md.includes('a\\|b'));
    assert.ok(md.startsWith('# Demo | run'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report and chart names that could escape the results folder are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-report-'));
  try {
    const base = {
      title: 't',
      description: '',
      command: '',
      startedAt: '',
      machine: { cpu: '', cores: 1, node: '', nodeOpenssl: '', opensslCli: '', loadStart: 0, loadEnd: 0 },
      options: {},
      tables: [],
      targets: [],
      notes: [],
      data: {},
    };
    assert.throws(() => writeReport({ ...base, scenario: '../x', charts: [] }, dir), RangeError);
    assert.throws(
      () =>
        writeReport(
          {
            ...base,
            scenario: 'ok',
            charts: [{ kind: 'bar', id: 'a/b', title: '', yLabel: '', categories: [], series: [] }],
          },
          dir,
        ),
      RangeError,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a target the run could not judge reads inconclusive, with the reason beside its figures', async () => {
  const { targetRows } = await import('./markdown-report.ts');
  const { scalingTarget } = await import('../scenarios/targets.ts');
  const flat = scalingTarget(1e6, 1.1e6, 2e6, 2.2e6);
  assert.ok(flat.inconclusive?.includes('1.10x'));
  const [row] = targetRows([flat]);
  assert.equal(row?.[3], 'inconclusive');
  assert.ok(row?.[4]?.includes('no second core'));
  const fair = scalingTarget(1e6, 1.9e6, 2e6, 3.9e6);
  assert.equal(fair.inconclusive, undefined);
  assert.equal(fair.pass, true);
  assert.equal(targetRows([fair])[0]?.[3], 'pass');
});
