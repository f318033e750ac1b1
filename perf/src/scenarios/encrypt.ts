import type { Chart, TargetResult } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
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
import { perWorkerCpuTarget, perWorkerTarget } from './targets.ts';

const usage = `Usage: npm run bench -- encrypt [options]

Gateway A's outbound pipeline: the generator feeds plaintext into each worker's rx ring (steered by
flow hash), the workers classify against the SPD, bulk by SA and encrypt (AES-GCM-256, tunnel mode,
one SA per worker: an RFC 9611 per-worker SA group), and the sink checks the ESP off the tx rings.
Beside it, measured in the same run: openssl speed -evp aes-256-gcm (one process and -multi N) and the
single-thread ESP encrypt rate (esp-throughput's method).
`;

export async function main(argv: readonly string[]): Promise<void> {
  const { options: o, command } = parseScenarioOptions('encrypt', argv, usage);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers]);
  process.stdout.write(`measuring the encrypt pipeline with ${o.workers} worker(s) ...\n`);
  const result = await measureEncrypt(o, poolSettings(o), `encrypt, ${o.workers} worker(s)`);
  const targets: TargetResult[] = [];
  if (refs.esp !== null) {
    targets.push(perWorkerTarget(result.rate, result.workers, refs.esp.mix));
    const perCpu = ratePerWorkerCpu(result);
    if (perCpu !== null) targets.push(perWorkerCpuTarget(perCpu, refs.esp.mixCpu));
  }
  const single = opensslOps(refs, 1);
  const multi = opensslOps(refs, o.workers, true);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rates',
      title: `Encrypt pipeline (${o.bytes.name}) beside its references`,
      yLabel: 'packets/s',
      categories: ['per worker', `all ${o.workers} worker(s)`],
      series: [
        { name: 'pipeline', values: [result.rate / result.workers, result.rate] },
        ...(refs.esp === null
          ? []
          : [{ name: 'ESP encrypt, 1 thread', values: [refs.esp.mix, refs.esp.mix * o.workers] }]),
        ...(single === null
          ? []
          : [{ name: 'openssl speed', values: [single, multi ?? single * o.workers] }]),
      ],
      ...(refs.esp === null ? {} : { reference: { label: '0.8x ESP 1-thread', value: 0.8 * refs.esp.mix } }),
    },
  ];
  publish({
    scenario: 'encrypt',
    title: 'Encrypt pipeline (gateway A)',
    description:
      'Plaintext from the generator through the worker pool to ESP on the tx rings; packets/s counts packets the sink accepted. The "ESP encrypt, 1 thread" row of the chart for all workers is the single-thread rate times the worker count (ideal scaling).',
    command,
    startedAt,
    machine: machine.info(),
    options: o,
    tables: [
      pipelineTable('Pipeline', [result], refs, o.bytes),
      referenceTable(o, refs),
      workerTable([result]),
      dropsTable([result]),
    ],
    charts,
    targets,
    notes: [
      `Sink check: ${o.verify === 'full' ? 'every ESP packet opened with the peer SAs and its plaintext compared with the template' : 'SPI known, length one the size mix produces, per-SA sequence numbers rising by one'}.`,
      'openssl speed counts AES-GCM over buffers of the packet size (no ESP framing); the -multi figure is the sum over processes.',
    ],
    data: { result, references: refs },
  });
}
