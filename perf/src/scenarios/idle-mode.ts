import type { Chart, TargetResult } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { measureReferences, pipelineTable, publish, referenceTable, workerTable } from './reporting.ts';
import { idleTarget } from './targets.ts';

const usage = `Usage: npm run bench -- idle [options]

Busy polling against the doorbell (spin, then sleep on Atomics.wait until io rings) in the encrypt
pipeline: at saturation, where the two should be alike; then at a fraction of the saturated rate,
where the doorbell lets an idle worker give its core back and busy polling does not.

  --load F   offered load of the paced runs, as a fraction of the busy-poll saturated rate (default 0.5)
`;

export async function main(argv: readonly string[]): Promise<void> {
  const {
    options: o,
    extra,
    command,
  } = parseScenarioOptions('idle', argv, usage, {
    load: { type: 'string', default: '0.5' },
  });
  const load = Number(extra.load);
  if (!(load > 0 && load < 1)) {
    process.stderr.write('--load: a fraction between 0 and 1\n');
    process.exit(2);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers]);
  // Alternating runs, best of two per mode, so a burst of other load on the machine hits both alike.
  const best = new Map<string, PipelineResult>();
  for (let round = 0; round < 2; round++) {
    for (const idle of ['busy', 'doorbell'] as const) {
      process.stdout.write(`measuring ${idle} at saturation (round ${round + 1}) ...\n`);
      const r = await measureEncrypt(
        o,
        poolSettings(o, { idle }),
        `${idle === 'busy' ? 'busy-poll' : 'doorbell'}, saturated`,
      );
      if ((best.get(idle)?.rate ?? 0) < r.rate) best.set(idle, r);
    }
  }
  const busy = best.get('busy')!;
  const doorbell = best.get('doorbell')!;
  const pace = { packetsPerSecond: load * busy.rate };
  const paced: PipelineResult[] = [];
  for (const idle of ['busy', 'doorbell'] as const) {
    process.stdout.write(`measuring ${idle} at ${(load * 100).toFixed(0)}% load ...\n`);
    paced.push(
      await measureEncrypt(
        o,
        poolSettings(o, { idle }),
        `${idle === 'busy' ? 'busy-poll' : 'doorbell'}, ${(load * 100).toFixed(0)}% load`,
        'per-worker',
        pace,
      ),
    );
  }
  const cpuShare = (r: PipelineResult) =>
    r.workerTimes === null ? Number.NaN : r.workerTimes.cpu / (r.seconds * r.workers);
  const targets: TargetResult[] = [idleTarget(doorbell.rate, busy.rate)];
  const all = [busy, doorbell, ...paced];
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rate',
      title: 'Busy polling against the doorbell: packets/s',
      yLabel: 'packets/s',
      categories: ['saturated', `${(load * 100).toFixed(0)}% load`],
      series: [
        { name: 'busy-poll', values: [busy.rate, paced[0]!.rate] },
        { name: 'doorbell', values: [doorbell.rate, paced[1]!.rate] },
      ],
    },
    {
      kind: 'bar',
      id: 'cpu',
      title: 'Busy polling against the doorbell: worker CPU (% of one core per worker)',
      yLabel: '% CPU',
      categories: ['saturated', `${(load * 100).toFixed(0)}% load`],
      series: [
        { name: 'busy-poll', values: [100 * cpuShare(busy), 100 * cpuShare(paced[0]!)] },
        { name: 'doorbell', values: [100 * cpuShare(doorbell), 100 * cpuShare(paced[1]!)] },
      ],
    },
  ];
  publish({
    scenario: 'idle',
    title: 'Encrypt pipeline: busy polling against the doorbell',
    description: `The encrypt scenario with each idle mode: saturated (best of two alternating runs per mode), then paced by io at ${(load * 100).toFixed(0)}% of the busy-poll saturated rate.`,
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { load },
    tables: [
      pipelineTable('Pipeline by idle mode', all, refs, o.bytes),
      {
        title: 'Worker CPU and sleeps (measuring window)',
        header: ['run', 'packets/s', 'worker CPU (% of a core each)', 'doorbell sleeps/s'],
        rows: all.map((r) => [
          r.label,
          r.rate.toFixed(0),
          Number.isFinite(cpuShare(r)) ? `${(100 * cpuShare(r)).toFixed(0)}%` : 'n/a',
          (r.perWorker.reduce((a, w) => a + w.sleeps, 0) / r.seconds).toFixed(0),
        ]),
      },
      referenceTable(o, refs),
      workerTable(all),
    ],
    charts,
    targets,
    notes: [
      "Worker CPU comes from /proc (the worker threads' scheduler statistics); on a machine shared with other jobs a busy-polling worker may still get less than a whole core.",
    ],
    data: { busy, doorbell, paced, references: refs },
  });
}
