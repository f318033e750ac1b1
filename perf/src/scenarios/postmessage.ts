import { formatRate } from '../lib/measure.ts';
import type { Chart } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import { ioShare, type PipelineResult, problemText } from './pipeline-result.ts';
import { type BaselineResult, measurePostMessage } from './postmessage-pipeline.ts';
import { measureReferences, pipelineTable, publish, referenceTable } from './reporting.ts';
import { ringsTarget } from './targets.ts';

const usage = `Usage: npm run bench -- postmessage [options]

What the rings buy: the encrypt pipeline on the worker pool (shared packet pool, SPSC rings of
descriptors, batches) beside the baseline design, a pool of worker threads fed with one postMessage
per packet (the bytes cloned into each message) that answer with one postMessage per ESP packet. Same
generator, same SAs (one per worker), same ESP work, same sink, same worker count.

  --window N   packets each baseline worker has in flight (default 1024, about what the rings hold)
`;

export async function main(argv: readonly string[]): Promise<void> {
  const {
    options: o,
    extra,
    command,
  } = parseScenarioOptions('postmessage', argv, usage, {
    window: { type: 'string', default: '1024' },
  });
  const inFlight = Number(extra.window);
  if (!Number.isInteger(inFlight) || inFlight < 1 || inFlight > 4096) {
    process.stderr.write('--window: an integer from 1 to 4096\n');
    process.exit(2);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers]);
  // Alternating runs, best of two per design, so a burst of other load on the machine hits both alike.
  let rings: PipelineResult | null = null;
  let baseline: BaselineResult | null = null;
  for (let round = 0; round < 2; round++) {
    process.stdout.write(
      `measuring the ring pipeline with ${o.workers} worker(s) (round ${round + 1}) ...\n`,
    );
    const r = await measureEncrypt(o, poolSettings(o), `rings, ${o.workers} worker(s)`);
    if (rings === null || r.rate > rings.rate) rings = r;
    process.stdout.write(
      `measuring postMessage per packet with ${o.workers} worker(s) (round ${round + 1}) ...\n`,
    );
    const b = await measurePostMessage(o, o.workers, inFlight);
    if (baseline === null || b.rate > baseline.rate) baseline = b;
  }
  if (rings === null || baseline === null) throw new Error('no rounds were run');
  const target = ringsTarget(rings.rate, baseline.rate);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rates',
      title: `Rings against postMessage per packet (${o.workers} worker(s), ${o.bytes.name})`,
      yLabel: 'packets/s',
      categories: ['encrypt pipeline'],
      series: [
        { name: 'rings (worker pool)', values: [rings.rate] },
        { name: 'postMessage per packet', values: [baseline.rate] },
      ],
    },
  ];
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)}%`);
  publish({
    scenario: 'postmessage',
    title: 'What the rings buy: the worker pool against postMessage per packet',
    description:
      'The same ESP encrypt work through two designs, measured in alternating runs (best of two each) in the same invocation; packets/s counts ESP packets the sink accepted.',
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { window: inFlight },
    tables: [
      {
        title: 'Designs',
        header: [
          'design',
          'workers',
          'packets/s',
          'vs postMessage',
          'main/io thread on CPU',
          'worker CPU (cores)',
          'verified',
        ],
        rows: [
          [
            rings.label,
            String(rings.workers),
            formatRate(rings.rate),
            `${(rings.rate / baseline.rate).toFixed(1)}x`,
            pct(ioShare(rings)),
            rings.workerTimes === null ? 'n/a' : (rings.workerTimes.cpu / rings.seconds).toFixed(2),
            rings.verified ? 'yes' : problemText(rings),
          ],
          [
            baseline.label,
            String(baseline.workers),
            formatRate(baseline.rate),
            '1.0x',
            pct(baseline.ioCpu),
            baseline.workerCpu === null ? 'n/a' : baseline.workerCpu.toFixed(2),
            baseline.verified
              ? 'yes'
              : Object.entries(baseline.problems)
                  .filter(([, n]) => n !== 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', '),
          ],
        ],
      },
      pipelineTable('The ring pipeline in detail', [rings], refs, o.bytes),
      referenceTable(o, refs),
    ],
    charts,
    targets: [target],
    notes: [
      `The baseline keeps ${inFlight} packets in flight per worker; each message clones the packet, each reply clones the ESP packet.`,
      'The ring-vs-postmessage benchmark measures the transport alone (descriptors between two threads, no ESP).',
    ],
    data: { rings, baseline, references: refs },
  });
}
