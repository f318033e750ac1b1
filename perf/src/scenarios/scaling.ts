import { availableParallelism } from 'node:os';
import type { Chart, TargetResult } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { ratePerWorkerCpu } from './pipeline-result.ts';
import {
  dropsTable,
  measureReferences,
  opensslOps,
  pipelineTable,
  publish,
  referenceTable,
  workerTable,
} from './reporting.ts';
import { perWorkerCpuTarget, perWorkerTarget, scalingTarget } from './targets.ts';

const usage = `Usage: npm run bench -- scaling [options]

The encrypt pipeline with 1, 2, ... N workers (N = --workers, default: the core count, at least 2),
one SA per worker, beside openssl speed -evp aes-256-gcm -multi n for each n, measured in the same run.
`;

export async function main(argv: readonly string[]): Promise<void> {
  const given = argv.some((a) => a === '--workers' || a.startsWith('--workers='));
  const parsed = parseScenarioOptions('scaling', argv, usage);
  const o = given ? parsed.options : { ...parsed.options, workers: Math.max(2, availableParallelism()) };
  const counts = Array.from({ length: o.workers }, (_, i) => i + 1);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, counts);
  // Two rounds over the worker counts, best of the two kept for each, so a burst of other load on the
  // machine does not decide the curve alone.
  const best = new Map<number, PipelineResult>();
  for (let round = 0; round < 2; round++) {
    for (const n of counts) {
      process.stdout.write(`measuring the encrypt pipeline with ${n} worker(s) (round ${round + 1}) ...\n`);
      const r = await measureEncrypt(o, poolSettings(o, { workers: n }), `${n} worker(s)`);
      if ((best.get(n)?.rate ?? 0) < r.rate) best.set(n, r);
    }
  }
  const results = counts.map((n) => best.get(n)!);
  const targets: TargetResult[] = [];
  const one = results[0]!;
  if (refs.esp !== null) {
    targets.push(perWorkerTarget(one.rate, 1, refs.esp.mix));
    const perCpu = ratePerWorkerCpu(one);
    if (perCpu !== null) targets.push(perWorkerCpuTarget(perCpu, refs.esp.mixCpu));
  }
  const o1 = opensslOps(refs, 1, true);
  const o2 = opensslOps(refs, 2, true);
  if (results.length >= 2 && o1 !== null && o2 !== null) {
    targets.push(scalingTarget(one.rate, results[1]!.rate, o1, o2));
  }
  const charts: Chart[] = [
    {
      kind: 'line',
      id: 'scaling',
      title: `Encrypt pipeline scaling (${o.bytes.name}), ${machine.info().cores} cores`,
      xLabel: 'workers (openssl: processes)',
      yLabel: 'packets/s',
      series: [
        { name: 'pipeline', points: results.map((r) => [r.workers, r.rate] as const) },
        {
          name: 'openssl speed -elapsed -multi n',
          points: counts.flatMap((n) => {
            const v = opensslOps(refs, n, true);
            return v === null ? [] : [[n, v] as const];
          }),
        },
        ...(refs.esp === null
          ? []
          : [
              {
                name: 'n x ESP encrypt on one thread',
                points: counts.map((n) => [n, n * refs.esp!.mix] as const),
              },
            ]),
      ],
    },
  ];
  publish({
    scenario: 'scaling',
    title: 'Encrypt pipeline: worker scaling',
    description:
      'The encrypt scenario at each worker count. The io thread (generator and sink) needs a core of its own besides the workers, so on a machine with c cores, c - 1 workers is the most that can scale; openssl speed -multi has no io thread.',
    command: parsed.command,
    startedAt,
    machine: machine.info(),
    options: o,
    tables: [
      pipelineTable('Pipeline by worker count', results, refs, o.bytes),
      referenceTable(o, refs),
      workerTable(results),
      dropsTable(results),
    ],
    charts,
    targets,
    notes: [
      'Scaling target: the pipeline speed-up from 1 to 2 workers, divided by the speed-up openssl speed -multi 2 shows over one process.',
    ],
    data: { results, references: refs },
  });
}
