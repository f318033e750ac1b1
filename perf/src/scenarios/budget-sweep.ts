import type { Chart } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { ratePerWorkerCpu } from './pipeline-result.ts';
import { measureReferences, pipelineTable, publish, referenceTable, workerTable } from './reporting.ts';

const usage = `Usage: npm run bench -- budget [options]

The encrypt pipeline at each NAPI budget (descriptors a worker takes from a ring per poll): a small
budget means small crypto batches and more polls per packet; a large one longer bursts per ring.

  --budgets LIST   budgets to measure (default 4,8,16,32,64,128,256)
`;

export async function main(argv: readonly string[]): Promise<void> {
  const {
    options: o,
    extra,
    command,
  } = parseScenarioOptions('budget', argv, usage, {
    budgets: { type: 'string', default: '4,8,16,32,64,128,256' },
  });
  const budgets = String(extra.budgets).split(',').map(Number);
  if (budgets.some((b) => !Number.isInteger(b) || b < 1 || b > 4096)) {
    process.stderr.write('--budgets: integers from 1 to 4096\n');
    process.exit(2);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers]);
  // Two rounds over the budgets, best of the two kept for each.
  const best = new Map<number, PipelineResult>();
  for (let round = 0; round < 2; round++) {
    for (const budget of budgets) {
      process.stdout.write(`measuring budget ${budget} (round ${round + 1}) ...\n`);
      const r = await measureEncrypt(o, poolSettings(o, { budget }), `budget ${budget}`);
      if ((best.get(budget)?.rate ?? 0) < r.rate) best.set(budget, r);
    }
  }
  const results = budgets.map((b) => best.get(b)!);
  const charts: Chart[] = [
    {
      kind: 'line',
      id: 'rate',
      title: `Encrypt pipeline by batch budget (${o.workers} worker(s), ${o.bytes.name})`,
      xLabel: 'budget (descriptors per poll)',
      yLabel: 'packets/s',
      logX: true,
      series: [
        { name: 'packets/s (wall clock)', points: results.map((r, i) => [budgets[i]!, r.rate] as const) },
        {
          name: 'packets per worker-CPU-second',
          points: results.flatMap((r, i) => {
            const v = ratePerWorkerCpu(r);
            return v === null ? [] : [[budgets[i]!, v] as const];
          }),
        },
      ],
    },
    {
      kind: 'line',
      id: 'batch',
      title: 'Mean batch a worker took per poll',
      xLabel: 'budget (descriptors per poll)',
      yLabel: 'descriptors',
      logX: true,
      series: [
        {
          name: 'mean batch',
          points: results.map(
            (r, i) =>
              [
                budgets[i]!,
                r.perWorker.reduce((a, w) => a + w.meanBatch, 0) / Math.max(1, r.perWorker.length),
              ] as const,
          ),
        },
      ],
    },
  ];
  publish({
    scenario: 'budget',
    title: 'Encrypt pipeline: batch budget sweep',
    description:
      'The encrypt scenario at each poll budget (two alternating rounds, the better run kept); everything else as in encrypt.',
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { budgets: budgets.join(',') },
    tables: [
      pipelineTable('Pipeline by budget', results, refs, o.bytes),
      referenceTable(o, refs),
      workerTable(results),
    ],
    charts,
    targets: [],
    notes: [
      'The rx and tx rings hold --ring descriptors; io keeps each worker fed with at most ring - budget of them.',
    ],
    data: { budgets, results, references: refs },
  });
}
