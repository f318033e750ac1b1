import type { SizeMix } from '@espresso/traffic';
import { meanSize } from '@espresso/traffic';
import { formatRate, gbits } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';
import { TARGET_HEADER, targetRows } from '../report/markdown-report.ts';
import type { Chart, MachineInfo, ReportTable, ScenarioReport, TargetResult } from '../report/model.ts';
import { writeReport } from '../report/write-report.ts';
import { optionRecord, type ScenarioOptions } from './cli-options.ts';
import {
  ioShare,
  meanBusy,
  type PipelineResult,
  problemText,
  ratePerWorkerCpu,
  workerWaitShare,
} from './pipeline-result.ts';
import {
  type EspReference,
  espEncryptReference,
  type OpensslReference,
  opensslReference,
} from './references.ts';

export interface References {
  readonly openssl: readonly OpensslReference[];
  readonly esp: EspReference | null;
}

/** openssl speed for each process count, and the single-thread ESP encrypt rate, measured now. */
export function measureReferences(
  o: ScenarioOptions,
  processes: readonly number[],
  withEsp = true,
): References {
  if (!o.reference) return { openssl: [], esp: null };
  process.stdout.write(
    `measuring references: openssl speed${withEsp ? ', single-thread ESP encrypt' : ''} ...\n`,
  );
  // openssl's own default (CPU time) for one process; wall clock (-elapsed) for 1..N, as -multi uses.
  const openssl = [
    opensslReference(o.bytes, 1, false),
    ...[...new Set([1, ...processes])].sort((a, b) => a - b).map((p) => opensslReference(o.bytes, p, true)),
  ];
  const esp = withEsp ? espEncryptReference(o.bytes, o.engine, o.budget) : null;
  return { openssl, esp };
}

/** openssl's packets/s for the mix: `processes` processes, by CPU time (1 only) or by wall clock. */
export function opensslOps(refs: References, processes: number, elapsed = false): number | null {
  return (
    refs.openssl.find((r) => r.processes === processes && r.elapsed === (elapsed || processes > 1))?.mixOps ??
    null
  );
}

export function referenceTable(o: ScenarioOptions, refs: References): ReportTable {
  const rows: string[][] = [];
  for (const r of refs.openssl) {
    o.bytes.sizes.forEach((size, i) => {
      const b = r.bytesPerSecond[i];
      rows.push([
        `openssl speed -evp ${r.cipher}${r.elapsed ? ' -elapsed' : ''}${r.processes > 1 ? ` -multi ${r.processes}` : ''}`,
        String(size),
        b == null ? 'n/a' : formatRate(b / size),
        b == null ? 'n/a' : gbits(b / size, size),
      ]);
    });
    if (o.bytes.sizes.length > 1) {
      rows.push([
        `  same, ${o.bytes.name} mix`,
        meanSize(o.bytes).toFixed(0),
        r.mixOps === null ? 'n/a' : formatRate(r.mixOps),
        '',
      ]);
    }
  }
  if (refs.esp !== null) {
    o.bytes.sizes.forEach((size, i) => {
      const rate = refs.esp!.perSize[i]!;
      rows.push([
        'ESP encrypt, one thread (esp-throughput method)',
        String(size),
        formatRate(rate),
        gbits(rate, size),
      ]);
    });
    if (o.bytes.sizes.length > 1) {
      rows.push([`  same, ${o.bytes.name} mix`, meanSize(o.bytes).toFixed(0), formatRate(refs.esp.mix), '']);
    }
    rows.push([
      '  same, per second of its CPU time',
      o.bytes.sizes.length > 1 ? meanSize(o.bytes).toFixed(0) : String(o.bytes.sizes[0]),
      formatRate(refs.esp.mixCpu),
      '',
    ]);
  }
  return {
    title: 'References, measured in this run',
    header: ['reference', 'bytes', 'packets/s', 'Gbit/s'],
    rows,
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)}%`);

/**
 * One row per pipeline result, with ratios to the references: by wall clock, and by the workers' own
 * CPU time (the CPU the other jobs on a shared machine left them), against the ESP reference's CPU rate.
 */
export function pipelineTable(
  title: string,
  results: readonly PipelineResult[],
  refs: References,
  mix: SizeMix,
): ReportTable {
  const single = opensslOps(refs, 1);
  const rows = results.map((r) => {
    const perCpu = ratePerWorkerCpu(r);
    const multi = opensslOps(refs, r.workers, true);
    return [
      r.label,
      String(r.workers),
      formatRate(r.rate),
      gbits(r.rate, meanSize(mix)),
      formatRate(r.rate / r.workers),
      refs.esp === null ? '-' : (r.rate / r.workers / refs.esp.mix).toFixed(2),
      single === null ? '-' : (r.rate / r.workers / single).toFixed(2),
      multi === null ? '-' : (r.rate / multi).toFixed(2),
      perCpu === null ? 'n/a' : formatRate(perCpu),
      refs.esp === null || perCpu === null ? '-' : (perCpu / refs.esp.mixCpu).toFixed(2),
      pct(meanBusy(r)),
      pct(workerWaitShare(r)),
      pct(ioShare(r)),
      r.verified ? 'yes' : problemText(r),
    ];
  });
  return {
    title,
    header: [
      'run',
      'workers',
      'packets/s',
      'inner Gbit/s',
      'per worker',
      'per worker / ESP 1-thread',
      'per worker / openssl 1 process',
      'all / openssl -multi N',
      'per worker-CPU-second',
      'same / ESP per CPU-second',
      'worker busy',
      'worker waiting for a CPU',
      'io thread on CPU',
      'verified',
    ],
    rows,
  };
}

export function workerTable(results: readonly PipelineResult[]): ReportTable {
  const rows: string[][] = [];
  for (const r of results) {
    r.perWorker.forEach((w, i) => {
      rows.push([
        r.label,
        r.workerNames?.[i] ?? String(i),
        formatRate(w.rxPackets / r.seconds),
        `${(w.busy * 100).toFixed(0)}%`,
        w.meanBatch.toFixed(1),
        w.meanOccupancy.toFixed(0),
        String(w.sleeps),
        (w.emptyPolls / Math.max(1, w.rxPackets)).toFixed(2),
        String(w.dropPackets),
      ]);
    });
  }
  return {
    title: "Per worker (from the workers' shared-memory counters, measuring window)",
    header: [
      'run',
      'worker',
      'rx packets/s',
      'busy',
      'mean batch',
      'mean rx occupancy',
      'doorbell sleeps',
      'empty polls per packet',
      'drops',
    ],
    rows,
  };
}

export function dropsTable(results: readonly PipelineResult[]): ReportTable | null {
  const rows = results.flatMap((r) =>
    Object.entries(r.drops).map(([reason, n]) => [r.label, reason, String(n)]),
  );
  return rows.length === 0
    ? null
    : {
        title: 'Drops counted by the forwarder (measuring window)',
        header: ['run', 'reason', 'packets'],
        rows,
      };
}

const SHARED_MACHINE_NOTE =
  'This machine is shared with other jobs while the suite runs: absolute figures drift from run to run; the ratios, taken against references measured in the same run, hold better.';

export interface ReportParts {
  readonly scenario: string;
  readonly title: string;
  readonly description: string;
  readonly command: string;
  readonly startedAt: string;
  readonly machine: MachineInfo;
  readonly options: ScenarioOptions;
  readonly extraOptions?: Readonly<Record<string, string | number | boolean>>;
  readonly tables: readonly (ReportTable | null)[];
  readonly charts: readonly Chart[];
  readonly targets: readonly TargetResult[];
  readonly notes: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;
}

/** Builds the report, writes it to perf/results/, and prints its tables and targets. */
export function publish(parts: ReportParts): ScenarioReport {
  const report: ScenarioReport = {
    scenario: parts.scenario,
    title: parts.title,
    description: parts.description,
    command: parts.command,
    startedAt: parts.startedAt,
    machine: parts.machine,
    options: { ...optionRecord(parts.options), ...parts.extraOptions },
    tables: parts.tables.filter((t): t is ReportTable => t !== null),
    charts: parts.charts,
    targets: parts.targets,
    notes: [...parts.notes, SHARED_MACHINE_NOTE],
    data: parts.data,
  };
  const m = report.machine;
  const out: string[] = [
    `${report.title}`,
    `machine: ${m.cpu}, ${m.cores} cores online; node ${m.node} (OpenSSL ${m.nodeOpenssl}); load ${m.loadStart.toFixed(2)} -> ${m.loadEnd.toFixed(2)}`,
    '',
  ];
  for (const t of report.tables) out.push(`${t.title}:`, formatTable(t.header, t.rows), '');
  if (report.targets.length > 0)
    out.push('Targets:', formatTable(TARGET_HEADER, targetRows(report.targets)), '');
  for (const note of report.notes) out.push(`note: ${note}`);
  const paths = writeReport(report);
  out.push('', `written: ${paths.join(', ')}`, '');
  process.stdout.write(out.join('\n'));
  return report;
}
