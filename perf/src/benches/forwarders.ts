import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineLine } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';
import type { ScenarioReport, TargetResult } from '../report/model.ts';
import { writeReport } from '../report/write-report.ts';
import { machineInfo } from '../scenarios/machine-info.ts';
import { compare, type Figure } from '../topology/comparison.ts';
import { EspressoGateways } from '../topology/espresso-gateways.ts';
import type { Forwarder } from '../topology/forwarder.ts';
import { FourNamespaces } from '../topology/four-namespaces.ts';
import { Iperf } from '../topology/iperf.ts';
import { findKnee, type KneeResult, type KneeTrial } from '../topology/knee-search.ts';
import { cpuDuring } from '../topology/process-cpu.ts';
import { sleep, which } from '../topology/shell.ts';
import { StrongswanLibipsec } from '../topology/strongswan-libipsec.ts';
import { WireguardGo } from '../topology/wireguard-go.ts';

const usage = `Usage: npm run bench -- forwarders [options]   (as root)

Espresso against wireguard-go and strongSwan's userspace ESP (charon + kernel-libipsec), each in turn
in the same topology and by the same method, in one run: four network namespaces, client — gwA — gwB
— server, joined by veth pairs (the end-to-end tests' topology); the forwarder under test runs on gwA
and gwB. For each forwarder:

  - iperf3 TCP throughput, one stream client -> server;
  - the UDP knee at each payload size: the highest fixed offered rate (iperf3 -u -b) delivered with at
    most 5% loss, by doubling then bisection (an unpaced -b 0 would measure the sender and the queues);
    a run whose sender could not keep up with the rate counts the shortfall as loss;
  - forwarder CPU (both gateways' processes, /proc/<pid>/stat) during the TCP run and at each knee.

Espresso passes a figure when it at least matches the better of the other two. Installs nothing: it
checks for the tools and prints the apt-get line for what is missing. Results go to
perf/results/forwarders.{json,md}.

  --tcp-seconds S     TCP run length (default 10)
  --udp-seconds S     length of each fixed-rate UDP run (default 3)
  --sizes N,N         UDP payload sizes in bytes (default 64,1372: 92- and 1400-byte IP packets)
  --workers N         Espresso worker threads per gateway (default: the cores less one, at least 1)
  --only NAME,...     run only these: espresso, wireguard-go, strongswan
  --tcp-runs N        TCP runs per forwarder, the best one counts (default 2)
  --retries N         a UDP run that misses is run again up to N times before it counts as a miss
                      (default 1: a moment of starvation on a shared machine is not the forwarder's)
  --keep              keep the working folder (configurations, keys, logs)
`;

const { values } = parseArgs({
  options: {
    'tcp-seconds': { type: 'string', default: '10' },
    'udp-seconds': { type: 'string', default: '3' },
    'tcp-runs': { type: 'string', default: '2' },
    retries: { type: 'string', default: '1' },
    sizes: { type: 'string', default: '64,1372' },
    workers: { type: 'string' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const tcpSeconds = Number(values['tcp-seconds']);
const udpSeconds = Number(values['udp-seconds']);
const sizes = values.sizes.split(',').map(Number);
const tcpRuns = Number(values['tcp-runs']);
const retries = Number(values.retries);
const workers =
  values.workers === undefined ? Math.max(1, availableParallelism() - 1) : Number(values.workers);
if (
  !(tcpSeconds >= 1) ||
  !(udpSeconds >= 1) ||
  sizes.some((s) => !Number.isInteger(s) || s < 16 || s > 1372) ||
  !Number.isInteger(workers) ||
  workers < 1 ||
  !(Number.isInteger(tcpRuns) && tcpRuns >= 1) ||
  !(Number.isInteger(retries) && retries >= 0)
) {
  process.stderr.write(usage);
  process.exit(2);
}

const runId = String(process.pid % 100000);
const MAX_LOSS = 0.05;
const all: Record<string, Forwarder> = {
  espresso: new EspressoGateways(workers),
  'wireguard-go': new WireguardGo(runId),
  strongswan: new StrongswanLibipsec(),
};
const chosen = values.only === undefined ? Object.keys(all) : values.only.split(',');
for (const key of chosen) {
  if (!(key in all)) {
    process.stderr.write(`forwarders: unknown forwarder '${key}' (have: ${Object.keys(all).join(', ')})\n`);
    process.exit(2);
  }
}
const forwarders = chosen.map((k) => all[k]!);

// What the run needs, checked before anything is made.
if (process.getuid?.() !== 0) {
  process.stderr.write('forwarders: needs root (network namespaces, TUN devices, bind mounts)\n');
  process.exit(2);
}
const tools: [string, string][] = [
  ['ip', 'iproute2'],
  ['iperf3', 'iperf3'],
  ['ss', 'iproute2'],
  ['ping', 'iputils-ping'],
  ['getconf', 'libc-bin'],
];
const missingPackages = new Set<string>();
const missingWhat: string[] = [];
for (const [tool, pkg] of tools) {
  if (which(tool) === null) {
    missingPackages.add(pkg);
    missingWhat.push(tool);
  }
}
for (const f of forwarders) {
  const missing = f.missing();
  if (missing.length > 0) {
    missingWhat.push(`${f.name}: ${missing.join(', ')}`);
    for (const p of f.packages) missingPackages.add(p);
  }
}
if (missingWhat.length > 0) {
  process.stderr.write(
    `forwarders: missing ${missingWhat.join('; ')}\n` +
      `install them with:\n  apt-get install -y --no-install-recommends ${[...missingPackages].join(' ')}\n`,
  );
  process.exit(2);
}

interface ForwarderResult {
  readonly name: string;
  readonly description: string;
  readonly tcpMbps: number;
  readonly tcpRetransmits: number;
  readonly tcpCores: number;
  readonly knees: Readonly<Record<number, KneeResult>>;
  readonly error: string | null;
  /** 1-minute load average when its turn began and ended (other work on the machine shows here). */
  readonly load: readonly [number, number];
}

const machine = machineInfo();
const startedAt = new Date().toISOString();
const workDir = mkdtempSync(join(tmpdir(), 'espresso-forwarders-'));
const topology = FourNamespaces.create();
const cleanup = () => {
  topology.destroy();
  if (!values.keep) rmSync(workDir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`forwarders: ${signal}, removing the namespaces\n`);
    cleanup();
    process.exit(130);
  });
}

const say = (text: string) => process.stdout.write(`${text}\n`);
/** Blocks this thread for `ms` (between iperf3 runs, which block it anyway). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const pps = (n: number) => `${(n / 1000).toFixed(1)}k pps`;

async function measure(f: Forwarder): Promise<ForwarderResult> {
  say(`\n== ${f.name}: ${f.description}`);
  const loadStart = loadavg()[0]!;
  const iperf = new Iperf(topology);
  try {
    await f.start(topology, workDir);
    await iperf.startServer(workDir);
    let tcp = cpuDuring(f.pids(), () => iperf.tcp(tcpSeconds));
    for (let r = 1; r < tcpRuns; r++) {
      say(`TCP run ${r}: ${(tcp.result.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      pause(500);
      const again = cpuDuring(f.pids(), () => iperf.tcp(tcpSeconds));
      if (again.result.bitsPerSecond > tcp.result.bitsPerSecond) tcp = again;
    }
    const tcpMbps = tcp.result.bitsPerSecond / 1e6;
    say(
      `TCP (best of ${tcpRuns}): ${tcpMbps.toFixed(0)} Mbit/s, ${tcp.result.retransmits} retransmits, forwarder CPU ${tcp.cores.toFixed(2)} cores`,
    );
    const knees: Record<number, KneeResult> = {};
    for (const size of sizes) {
      const once = (rate: number): KneeTrial => {
        pause(300);
        try {
          const run = cpuDuring(f.pids(), () => iperf.udp(size, rate, udpSeconds));
          const u = run.result;
          const trial = {
            offeredPps: rate,
            sentPps: u.sentPps,
            receivedPps: u.receivedPps,
            loss: Math.max(0, 1 - u.receivedPps / rate),
            cores: run.cores,
          };
          say(
            `  UDP ${size} B at ${pps(rate)}: sent ${pps(u.sentPps)}, received ${pps(u.receivedPps)} ` +
              `(${(trial.loss * 100).toFixed(2)}% short of the offered rate, ${(u.loss * 100).toFixed(2)}% of the sent lost), ` +
              `forwarder CPU ${run.cores.toFixed(2)} cores`,
          );
          return trial;
        } catch (error) {
          say(`  UDP ${size} B at ${pps(rate)}: failed: ${(error as Error).message}`);
          return { offeredPps: rate, sentPps: 0, receivedPps: 0, loss: 1, cores: 0 };
        }
      };
      knees[size] = findKnee(
        (rate) => {
          let trial = once(rate);
          for (let r = 0; r < retries && trial.loss > MAX_LOSS; r++) trial = once(rate);
          return trial;
        },
        { maxLoss: MAX_LOSS },
      );
      say(`UDP ${size} B knee: ${pps(knees[size].knee)}`);
      // Let queues empty before the next size.
      await sleep(500);
    }
    return {
      name: f.name,
      description: f.description,
      tcpMbps,
      tcpRetransmits: tcp.result.retransmits,
      tcpCores: tcp.cores,
      knees,
      error: null,
      load: [loadStart, loadavg()[0]!],
    };
  } catch (error) {
    const message = (error as Error).message;
    say(`${f.name} failed: ${message}`);
    for (const line of logTails()) say(`  ${line}`);
    return {
      name: f.name,
      description: f.description,
      tcpMbps: Number.NaN,
      tcpRetransmits: 0,
      tcpCores: Number.NaN,
      knees: {},
      error: message,
      load: [loadStart, loadavg()[0]!],
    };
  } finally {
    await iperf.stopServer();
    await f.stop();
  }
}

/** The last lines of every log in the working folder, to explain a failure. */
function logTails(): string[] {
  const out: string[] = [];
  for (const name of readdirSync(workDir, { recursive: true }) as string[]) {
    if (!/\.(log|stdout)$/.test(name)) continue;
    try {
      const lines = readFileSync(join(workDir, name), 'utf8').trim().split('\n').slice(-4);
      for (const line of lines) if (line.trim() !== '') out.push(`${name}: ${line}`);
    } catch {
      // a folder, or gone
    }
  }
  return out;
}

const results: ForwarderResult[] = [];
try {
  say(machineLine(availableParallelism()));
  say(
    `load average at the start: ${loadavg()[0]!.toFixed(2)} (the forwarders, iperf3 and anything else share the machine)`,
  );
  for (const f of forwarders) results.push(await measure(f));
} finally {
  cleanup();
}

// Figures, the comparison and the report.
const espressoName = all.espresso!.name;
const byName = (pick: (r: ForwarderResult) => number): Record<string, number> =>
  Object.fromEntries(results.map((r) => [r.name, pick(r)]));
const cpuPerPacket = (k: KneeResult | undefined) =>
  k?.atKnee ? (k.atKnee.cores * 1e6) / k.atKnee.receivedPps : Number.NaN;
const figures: Figure[] = [
  { name: 'TCP throughput', unit: 'Mbit/s', better: 'higher', values: byName((r) => r.tcpMbps) },
  ...sizes.map(
    (size): Figure => ({
      name: `UDP knee, ${size} B payload`,
      unit: 'packets/s',
      better: 'higher',
      values: byName((r) => r.knees[size]?.knee ?? Number.NaN),
    }),
  ),
  {
    name: 'CPU per TCP Gbit/s',
    unit: 'cores',
    better: 'lower',
    values: byName((r) => r.tcpCores / (r.tcpMbps / 1000)),
  },
  ...sizes.map(
    (size): Figure => ({
      name: `CPU per packet at the ${size} B knee`,
      unit: 'µs',
      better: 'lower',
      values: byName((r) => cpuPerPacket(r.knees[size])),
    }),
  ),
];
const format = (f: Figure, v: number): string => {
  if (!Number.isFinite(v)) return '-';
  if (f.unit === 'packets/s') return `${(v / 1000).toFixed(1)}k`;
  if (f.unit === 'Mbit/s') return v.toFixed(0);
  return v.toFixed(2);
};
const names = results.map((r) => r.name);
const verdicts = chosen.includes('espresso') && results.length > 1 ? compare(figures, espressoName) : [];
const header = ['figure', ...names, ...(verdicts.length > 0 ? ['Espresso vs better other', 'result'] : [])];
const rows = figures.map((f, i) => {
  const v = verdicts[i];
  const cells = [
    `${f.name} (${f.unit}, ${f.better} is better)`,
    ...names.map((n) => format(f, f.values[n] ?? Number.NaN)),
  ];
  if (v !== undefined) {
    cells.push(
      Number.isFinite(v.ratio) ? `${v.ratio.toFixed(2)}x ${v.bestName}` : '-',
      v.pass ? 'pass' : 'miss',
    );
  }
  return cells;
});
say('');
say(formatTable(header, rows));
say('');
say(machineLine(availableParallelism()));
say(`load average at the end: ${loadavg()[0]!.toFixed(2)}`);
if (verdicts.length > 0) {
  const passed = verdicts.filter((v) => v.pass).length;
  say(
    `target "Espresso at least matches the better of the two on every figure": ${passed}/${verdicts.length} figures ${passed === verdicts.length ? 'pass' : 'pass; MISSED'}`,
  );
}

const targets: TargetResult[] = verdicts.map((v) => ({
  name: `${v.figure.name}: Espresso vs the better of the others`,
  measured: Number.isFinite(v.ratio) ? v.ratio : 0,
  required: 1,
  pass: v.pass,
  detail: `Espresso ${format(v.figure, v.subject)} ${v.figure.unit}, ${v.bestName} ${format(v.figure, v.best)} (${v.figure.better} is better)`,
}));
const report: ScenarioReport = {
  scenario: 'forwarders',
  title: 'Espresso against wireguard-go and strongSwan libipsec, two gateways in network namespaces',
  description:
    'client — gwA — gwB — server over veth pairs; each forwarder on gwA and gwB in turn, in one run. iperf3 TCP ' +
    'throughput (one stream), the UDP knee (highest fixed offered rate with at most 5% loss) per payload size, ' +
    'forwarder CPU from /proc/<pid>/stat. The forwarders, iperf3 and everything else on the machine share its cores.',
  command: `npm run bench -- forwarders ${process.argv.slice(2).join(' ')}`.trim(),
  startedAt,
  machine: machine.info(),
  options: {
    tcpSeconds,
    udpSeconds,
    sizes: sizes.join(','),
    espressoWorkers: workers,
    only: chosen.join(','),
  },
  tables: [
    { title: 'Figures', header, rows },
    {
      title: 'Forwarders',
      header: ['forwarder', 'setup', 'TCP retransmits', 'load average (its turn)', 'error'],
      rows: results.map((r) => [
        r.name,
        r.description,
        String(r.tcpRetransmits),
        `${r.load[0].toFixed(2)} -> ${r.load[1].toFixed(2)}`,
        r.error ?? '',
      ]),
    },
    {
      title: 'UDP runs',
      header: ['forwarder', 'payload', 'offered pps', 'sent pps', 'received pps', 'loss', 'CPU cores'],
      rows: results.flatMap((r) =>
        Object.entries(r.knees).flatMap(([size, k]) =>
          k.trials.map((t) => [
            r.name,
            `${size} B`,
            t.offeredPps.toFixed(0),
            t.sentPps.toFixed(0),
            t.receivedPps.toFixed(0),
            `${(t.loss * 100).toFixed(2)}%`,
            t.cores.toFixed(2),
          ]),
        ),
      ),
    },
  ],
  charts: [
    {
      kind: 'bar',
      id: 'knees',
      title: 'UDP knee (packets/s, at most 5% loss)',
      yLabel: 'packets/s',
      categories: sizes.map((s) => `${s} B`),
      series: results.map((r) => ({ name: r.name, values: sizes.map((s) => r.knees[s]?.knee ?? 0) })),
    },
    {
      kind: 'bar',
      id: 'tcp',
      title: 'iperf3 TCP throughput (Mbit/s)',
      yLabel: 'Mbit/s',
      categories: ['TCP'],
      series: results.map((r) => ({ name: r.name, values: [Number.isFinite(r.tcpMbps) ? r.tcpMbps : 0] })),
    },
  ],
  targets,
  notes: [
    'Figures drift from run to run on a shared machine; compare ratios within one run.',
    'UDP payload sizes are iperf3 -l: the IP packets are 28 bytes longer (1372 B fills the 1400-byte MTU libipsec fixes).',
    'Forwarder CPU counts the gateway processes only (all their threads); the kernel work for veth, TUN and UDP sockets done on behalf of iperf3 is not in it.',
  ],
  data: { results, figures, verdicts: verdicts.map((v) => ({ ...v, figure: v.figure.name })) },
};
for (const path of writeReport(report)) say(`wrote ${path}`);
if (values.keep) say(`working folder kept: ${workDir}`);
