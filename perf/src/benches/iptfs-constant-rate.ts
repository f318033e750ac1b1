import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createSaCipher } from '@espresso/crypto';
import {
  createPacketVector,
  EspOutbound,
  PacketFlag,
  resolveSaConfig,
  type SaParameters,
  SaRuntime,
  setPacket,
  VERDICT_FORWARD,
  zeroSaParameters,
} from '@espresso/esp';
import { innerPacket, saPair } from '@espresso/esp/testing';
import { IptfsSender, resolveIptfsConfig } from '@espresso/iptfs';
import { formatRate, machineLine } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- iptfs-constant-rate [options]

Constant-rate IP-TFS (RFC 9347 §2) on a real clock: one thread busy-polls the sender's schedule, and
each due outer packet is packed (all-pad when the queue is empty) and sealed by ESP (AES-GCM-256, iptfs
mode) at once; its departure time is taken when the seal returns. Inner packets are offered at a
fraction of the tunnel's capacity in random sizes. Prints the achieved rate beside the configured one
(and their ratio), and the inter-departure jitter (|interval - 1/rate|) at p50, p99 and max, also as a
share of the configured interval. Slots the schedule skipped (the thread was off the core for more than
maxBurst intervals) are counted: they, not the pacing, are what brings the achieved rate below the
configured one on a busy machine (see the CPU share). Steady intervals are those more than maxBurst
departures after a stall of the busy loop (two clock readings more than 20 µs, or half an interval, apart: the thread or its
virtual CPU was off the core, or a GC pause), past the catch-up burst: their jitter is the pacing's
own, the rest is the machine's.

  --rate N[,N]      configured outer packets per second (default 1000,10000,100000)
  --outer N         outer packet size, pkt_size (default 1400)
  --load F          offered inner load as a fraction of the tunnel's capacity (default 0.5)
  --seconds S       measuring time per rate (default 2)
`;

const { values } = parseArgs({
  options: {
    rate: { type: 'string', multiple: true },
    outer: { type: 'string', default: '1400' },
    load: { type: 'string', default: '0.5' },
    seconds: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const rates = (values.rate?.flatMap((s) => s.split(',')) ?? ['1000', '10000', '100000']).map(Number);
const outerBytes = Number(values.outer);
const load = Number(values.load);
const seconds = Number(values.seconds);
if (rates.some((r) => !(r > 0)) || !(outerBytes >= 256) || !(load >= 0) || !(seconds > 0)) {
  process.stderr.write(usage);
  process.exit(2);
}

const pattern = (n: number) =>
  Array.from({ length: n }, (_, k) => ((31 + k * 7) & 0xff).toString(16).padStart(2, '0')).join('');

function iptfsSa(): SaRuntime {
  const alg = {
    name: 'aes-gcm-256',
    encryption: { algorithm: 'aes-gcm' as const, keyBits: 256 as const, key: pattern(36) },
  };
  const params = resolveSaConfig(saPair(alg).out);
  try {
    const cipher = createSaCipher(params.cipherSpec, params.keys, params.engine);
    return new SaRuntime({ ...params, mode: 'iptfs' as unknown as SaParameters['mode'] }, cipher);
  } finally {
    zeroSaParameters(params);
  }
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const micros = (s: number) => `${(s * 1e6).toFixed(2)} µs`;
/**
 * A gap between two readings of the clock in the busy loop that means it was not running (seconds):
 * 20 µs, or half the interval at high rates (one pass of the loop takes a microsecond or two).
 */
const stallGap = (rate: number) => Math.min(20e-6, 0.5 / rate);
/** A jitter figure and what share of the configured interval it is. */
const ofInterval = (s: number, rate: number) => `${micros(s)} (${(100 * s * rate).toFixed(1)}%)`;

interface Result {
  achieved: number;
  meanInterval: number;
  p50: number;
  p99: number;
  max: number;
  departures: number;
  allPad: number;
  skipped: number;
  offered: number;
  /** CPU time this thread got over the wall time of the run: below 1, the core was taken away. */
  cpuShare: number;
  /** Intervals more than maxBurst departures after the last stall, and their jitter. */
  steadyShare: number;
  steadyP50: number;
  steadyP99: number;
}

function run(rate: number): Result {
  const sa = iptfsSa();
  const payloadBytes =
    Math.floor((outerBytes - 20 - sa.espHeaderBytes - sa.icvBytes) / sa.alignBytes) * sa.alignBytes - 2;
  const params = resolveIptfsConfig({
    packetSize: outerBytes,
    constantRate: { bitsPerSecond: Math.round(rate * 8 * outerBytes) },
  });
  const encoder = new EspOutbound({ capacity: 1 });
  const slot = 128 + payloadBytes + 64;
  const v = createPacketVector(new Uint8Array(slot), 1);
  // Offered load: inner packets of 64..1400 octets, arriving evenly at `load` of the tunnel's capacity.
  const sizes = [64, 576, 1400, 200, 1000, 40, 1300, 120];
  const inner = sizes.map((n, i) =>
    innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: n - 28, seed: i }),
  );
  const meanSize = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  const arrivalInterval = load > 0 ? meanSize / (load * rate * (payloadBytes - 4)) : Number.POSITIVE_INFINITY;
  const maxDepartures = Math.ceil(rate * seconds) + 16;
  const times = new Float64Array(maxDepartures);
  // Whether the loop stalled (off the core, or a GC pause) before each departure: two of its clock
  // readings more than STALL apart, where one pass takes a microsecond or two.
  const stalled = new Uint8Array(maxDepartures);
  let stall = 0;
  let lastPoll = 0;
  const STALL = stallGap(rate);
  const clock = () => performance.now() / 1000;
  const start = clock() + 0.01;
  const sender = new IptfsSender(params, { payloadBytes, outerPacketBytes: outerBytes, now: start });
  const end = start + seconds;
  let nextArrival = start;
  let arrivals = 0;
  let n = 0;
  const cpuBefore = process.threadCpuUsage();
  const wallBefore = clock();
  lastPoll = wallBefore;
  for (let now = clock(); now < end && n < maxDepartures; now = clock()) {
    if (now - lastPoll > STALL) stall = 1;
    lastPoll = now;
    while (nextArrival <= now) {
      const p = inner[arrivals % inner.length]!;
      sender.enqueue(p, 0, p.length, now);
      arrivals++;
      nextArrival += arrivalInterval;
    }
    if (!sender.due(now)) continue;
    const length = sender.emit(v.buffer, 128, now);
    setPacket(v, 0, 128, length, 0, slot);
    v.flags[0] = PacketFlag.modePayload;
    v.count = 1;
    encoder.encapsulate(sa, v, 0, 1, now);
    if (v.verdict[0] !== VERDICT_FORWARD || v.length[0] !== outerBytes)
      throw new Error('outer packet dropped or resized');
    times[n] = clock();
    stalled[n++] = stall;
    stall = 0;
    lastPoll = times[n - 1]!;
  }
  const cpu = process.threadCpuUsage(cpuBefore);
  const cpuShare = (cpu.user + cpu.system) / 1e6 / (clock() - wallBefore);
  sa.destroy();
  const jitter = new Float64Array(n - 1);
  const steady: number[] = [];
  const ideal = 1 / rate;
  // A stall delays one departure, and the schedule then sends what fell due meanwhile back to back
  // (up to maxBurst): intervals that close to a stall say what the machine did, the rest what pacing does.
  const burst = params.maxBurst;
  let sinceStall = burst + 1;
  for (let i = 1; i < n; i++) {
    jitter[i - 1] = Math.abs(times[i]! - times[i - 1]! - ideal);
    sinceStall = stalled[i] === 1 ? 0 : sinceStall + 1;
    if (sinceStall > burst) steady.push(jitter[i - 1]!);
  }
  jitter.sort();
  const steadyJitter = Float64Array.from(steady).sort();
  return {
    achieved: (n - 1) / (times[n - 1]! - times[0]!),
    meanInterval: (times[n - 1]! - times[0]!) / (n - 1),
    p50: percentile(jitter, 0.5),
    p99: percentile(jitter, 0.99),
    steadyShare: steady.length / Math.max(1, n - 1),
    steadyP50: steadyJitter.length > 0 ? percentile(steadyJitter, 0.5) : Number.NaN,
    steadyP99: steadyJitter.length > 0 ? percentile(steadyJitter, 0.99) : Number.NaN,
    max: jitter[jitter.length - 1]!,
    departures: n,
    allPad: sender.stats.allPad,
    skipped: sender.scheduler!.skipped,
    offered: arrivals,
    cpuShare,
  };
}

process.stdout.write(`${machineLine(1)}\n`);
const loadLine = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
process.stdout.write(
  `load average before: ${loadLine()} (other processes take the core away: see jitter max)\n`,
);
process.stdout.write(
  `outer packets of ${outerBytes} octets (AES-GCM-256, IPv4), offered inner load ${load} of capacity, ` +
    `${seconds} s per rate; one thread busy-waits on performance.now()\n\n`,
);
const rows: string[][] = [];
for (const rate of rates) {
  const r = run(rate);
  rows.push([
    formatRate(rate),
    formatRate(r.achieved),
    (r.achieved / rate).toFixed(4),
    micros(1 / rate),
    micros(r.meanInterval),
    ofInterval(r.p50, rate),
    ofInterval(r.p99, rate),
    micros(r.max),
    `${(100 * r.steadyShare).toFixed(1)}%`,
    ofInterval(r.steadyP50, rate),
    ofInterval(r.steadyP99, rate),
    `${((100 * r.allPad) / r.departures).toFixed(1)}%`,
    String(r.skipped),
    `${(100 * r.cpuShare).toFixed(0)}%`,
  ]);
}
process.stdout.write(
  `${formatTable(
    [
      'configured',
      'achieved',
      'achieved/configured',
      'interval',
      'mean interval',
      'jitter p50 (of interval)',
      'jitter p99 (of interval)',
      'jitter max',
      'steady intervals',
      'steady p50',
      'steady p99',
      'all-pad',
      'slots skipped',
      'CPU share',
    ],
    rows,
  )}\n`,
);
process.stdout.write(`load average after: ${loadLine()}\n`);
