import { formatRate } from '../lib/measure.ts';
import type { Chart } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureDecrypt } from './decrypt-pipeline.ts';
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

const usage = `Usage: npm run bench -- decrypt [options]

Gateway B's inbound pipeline: ESP packets sealed before the run (AES-GCM-256, tunnel mode) are copied
into slots and steered by SPI to the worker that owns the SA; the workers check replay, decrypt, check
the inbound policy and put the plaintext on their tx rings, where the sink checks stamps and content.
An SA's packets are replayed after it is re-installed (same key, fresh replay window). --loss,
--reorder and --distance impair the ESP stream before the rx rings.

  --sas-per-worker N   inbound SAs per worker (default 4)
  --corpus N           ESP packets sealed per SA before the run (default 16384)
`;

export async function main(argv: readonly string[]): Promise<void> {
  const {
    options: o,
    extra,
    command,
  } = parseScenarioOptions('decrypt', argv, usage, {
    'sas-per-worker': { type: 'string', default: '4' },
    corpus: { type: 'string', default: '16384' },
  });
  const sasPerWorker = Number(extra['sas-per-worker']);
  const packetsPerSa = Number(extra.corpus);
  if (!Number.isInteger(sasPerWorker) || sasPerWorker < 2 || sasPerWorker > 64) {
    process.stderr.write('--sas-per-worker: must be an integer from 2 to 64\n');
    process.exit(2);
  }
  if (!Number.isInteger(packetsPerSa) || packetsPerSa < 1024 || packetsPerSa > 1 << 20) {
    process.stderr.write('--corpus: must be an integer from 1024 to 1048576\n');
    process.exit(2);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers], false);
  process.stdout.write(
    `sealing ${sasPerWorker * o.workers} x ${packetsPerSa} ESP packets, then measuring ...\n`,
  );
  const result = await bestOf(2, () =>
    measureDecrypt(o, poolSettings(o), { sasPerWorker, packetsPerSa }, `decrypt, ${o.workers} worker(s)`),
  );
  const single = opensslOps(refs, 1);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rates',
      title: `Decrypt pipeline (${o.bytes.name}) beside openssl speed`,
      yLabel: 'packets/s',
      categories: ['per worker', `all ${o.workers} worker(s)`],
      series: [
        { name: 'pipeline', values: [result.rate / result.workers, result.rate] },
        ...(single === null
          ? []
          : [{ name: 'openssl speed', values: [single, opensslOps(refs, o.workers, true) ?? single] }]),
      ],
    },
  ];
  const x = result.extra;
  publish({
    scenario: 'decrypt',
    title: 'Decrypt pipeline (gateway B)',
    description:
      'ESP from a corpus sealed before the run, through the worker pool (replay check, decrypt, inbound policy) to plaintext on the tx rings; packets/s counts packets the sink accepted. Best of two runs.',
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { sasPerWorker, corpus: packetsPerSa },
    tables: [
      pipelineTable('Pipeline', [result], refs, o.bytes),
      {
        title: 'Inbound stream',
        header: [
          'ESP offered',
          'dropped before the forwarder',
          'held back (reordered)',
          'replay drops',
          'SA re-installs',
          'player waits',
        ],
        rows: [
          [
            String(x.offered),
            String(x.impairmentDrops),
            String(x.impairmentDelayed),
            String(x.replayDrops),
            String(x.reinstalls),
            String(x.playerStalls),
          ],
        ],
      },
      referenceTable(o, refs),
      workerTable([result]),
      dropsTable([result]),
    ],
    charts,
    targets: [],
    notes: [
      `Sink check: stamp, length and run id of every packet; every byte of ${o.verify === 'full' ? 'every packet' : '1 packet in 16'} against its template. Sequence tracking is off (the corpus is replayed on purpose); the forwarder's replay window is what refuses repeats, and its drops are counted above.`,
      `Corpus: ${formatRate(x.corpusPackets ?? 0).replace('/s', '')} packets; the "ESP encrypt" reference does not apply here and is not measured.`,
    ],
    data: { result, references: refs },
  });
}
