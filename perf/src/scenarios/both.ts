import type { Chart } from '../report/model.ts';
import { measureBoth } from './both-pipeline.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import { bestOf } from './pipeline-result.ts';
import {
  dropsTable,
  measureReferences,
  opensslOps,
  pipelineTable,
  publish,
  referenceTable,
  workerTable,
} from './reporting.ts';

const usage = `Usage: npm run bench -- both [options]

Two gateways in one process: gateway A (--workers workers) encrypts the generator's plaintext, io
carries A's ESP across "the wire" into gateway B's packet pool (copying it, with --loss, --reorder
and --distance applied on the way) and steers it by SPI, gateway B (--workers-b workers, default the
same) decrypts, and the sink checks every flow's sequence and the content. One SA per A worker (a
per-worker SA group), each with its inbound twin at B.

  --workers-b N   gateway B's workers (default: --workers)
`;

export async function main(argv: readonly string[]): Promise<void> {
  const {
    options: o,
    extra,
    command,
  } = parseScenarioOptions('both', argv, usage, {
    'workers-b': { type: 'string' },
  });
  const workersB = extra['workers-b'] === undefined ? o.workers : Number(extra['workers-b']);
  if (!Number.isInteger(workersB) || workersB < 1 || workersB > 64) {
    process.stderr.write('--workers-b: must be an integer from 1 to 64\n');
    process.exit(2);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers + workersB], false);
  process.stdout.write(`measuring A (${o.workers} worker(s)) -> wire -> B (${workersB} worker(s)) ...\n`);
  const r = await bestOf(2, () =>
    measureBoth(
      o,
      poolSettings(o),
      poolSettings(o, { workers: workersB }),
      { topology: 'per-worker' },
      `A ${o.workers} + B ${workersB} worker(s)`,
    ),
  );
  const t = r.totals;
  const single = opensslOps(refs, 1);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rates',
      title: `Gateway A to gateway B (${o.bytes.name})`,
      yLabel: 'packets/s',
      categories: ['end to end'],
      series: [
        { name: 'A encrypts, B decrypts', values: [r.rate] },
        ...(single === null ? [] : [{ name: 'openssl speed, 1 process (one direction)', values: [single] }]),
        ...(single === null
          ? []
          : [{ name: 'half of it (both directions on one core)', values: [single / 2] }]),
      ],
    },
  ];
  publish({
    scenario: 'both',
    title: 'Gateway A encrypts, gateway B decrypts',
    description:
      'Plaintext to ESP and back through two worker pools in one process; packets/s counts packets the sink accepted at B. Every packet is crypto work twice (seal at A, open at B), so one core of openssl speed does about half the packets per second end to end. Best of two runs.',
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { workersB },
    tables: [
      pipelineTable('End to end (per worker = per gateway A worker)', [r], refs, o.bytes),
      {
        title: 'Whole run (warm-up and drain included)',
        header: [
          'sent',
          'delivered',
          'lost',
          'reordered at the sink',
          'dropped on the wire',
          'held back on the wire',
          'replay drops at B',
        ],
        rows: [
          [t.sent, t.delivered, t.lost, t.reordered, t.wireDrops, t.wireReordered, t.replayDrops].map(String),
        ],
      },
      referenceTable(o, refs),
      workerTable([r]),
      dropsTable([r]),
    ],
    charts,
    targets: [],
    notes: [
      `Sink check: every flow's sequence numbers (lost, duplicated, reordered), stamp and length of every packet, every byte of ${o.verify === 'full' ? 'every packet' : '1 packet in 16'}. Lost packets must each be a counted drop (gateway or wire): "verified" says they are.`,
      `openssl speed -multi ${o.workers + workersB} is listed for the total thread count of both gateways.`,
    ],
    data: { result: r, references: refs },
  });
}
