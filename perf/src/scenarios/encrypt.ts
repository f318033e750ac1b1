import type { Chart, TargetResult } from '../report/model.ts';
import { parseScenarioOptions } from './cli-options.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import { bestOf, ratePerWorkerCpu } from './pipeline-result.ts';
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
  const result = await bestOf(2, () => measureEncrypt(o, poolSettings(o), `encrypt, ${o.workers} worker(s)`));
  const perCpu = ratePerWorkerCpu(result);
  const targets: TargetResult[] = [];
  if (refs.esp !== null) {
    targets.push(perWorkerTarget(result.rate, result.workers, refs.esp.mix));
    if (perCpu !== null) targets.push(perWorkerCpuTarget(perCpu, refs.esp.mixCpu));
  }
  const single = opensslOps(refs, 1);
  const elapsed1 = opensslOps(refs, 1, true);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'rates',
      title: `Encrypt pipeline per worker (${o.bytes.name}) beside its references`,
      yLabel: 'packets/s',
      categories: ['per second of wall-clock time', 'per second of CPU time'],
      series: [
        { name: 'pipeline, per worker', values: [result.rate / result.workers, perCpu ?? 0] },
        ...(refs.esp === null
          ? []
          : [{ name: 'ESP encrypt, 1 thread', values: [refs.esp.mix, refs.esp.mixCpu] }]),
        ...(single === null || elapsed1 === null
          ? []
          : [{ name: 'openssl speed, 1 process', values: [elapsed1, single] }]),
      ],
    },
  ];
  publish({
    scenario: 'encrypt',
    title: 'Encrypt pipeline (gateway A)',
    description:
      'Plaintext from the generator through the worker pool to ESP on the tx rings; packets/s counts packets the sink accepted. Best of two runs.',
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
