import { parseArgs } from 'node:util';
import { engineNames } from '@espresso/crypto';
import {
  createModeOutlet,
  createPacketVector,
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  iptfsStateOf,
  type PacketSlots,
  type PacketVector,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { type AlgorithmCase, innerPacket, saPair } from '@espresso/esp/testing';
import type { InnerPacketSink } from '@espresso/iptfs';
import { formatRate, gbits, machineLine } from '../lib/measure.ts';
import { opensslSpeed, opensslVersion } from '../lib/openssl-speed.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- iptfs-aggregation [options]

Small inner packets through IP-TFS (RFC 9347) aggregated into fixed-size outer packets, against plain
ESP tunnel mode protecting each small packet, on one thread, both through the datapath's ESP layer:

  send     plain ESP: EspOutbound seals a batch of inner packets, one ESP packet each.
           IP-TFS: EspOutbound hands each inner packet to the SA's IP-TFS sender (queued: copied into
           its send queue), then emitModePackets packs the queue into outer payloads and seals them.
  receive  plain ESP: EspInbound opens a batch of ESP packets, one inner packet each.
           IP-TFS: EspInbound opens the outer packets and the SA's receiver deaggregates them, each inner
           packet copied into a slot of its own (a packet pool's).

Rates count inner packets; the ratio is IP-TFS / plain ESP (target >= 5 for send). Each engine's
plain-ESP reference is measured in the same run, trials of all four figures interleaved; the best
trial of each is kept. Rates are per second of this thread's CPU time (the machine is shared: time the
core was taken away is not counted), with the wall-clock rates beside them.

  --alg NAME[,NAME] aes-gcm-128, aes-gcm-256, chacha20-poly1305 (default aes-gcm-256,chacha20-poly1305;
                    each engine runs those it supports)
  --engine NAME[,NAME]  crypto engines (default: every registered one that runs the algorithm)
  --bytes N[,N]     inner IP packet sizes (default 64)
  --outer N         outer IP packet size, IP-TFS packetSize (default 1400)
  --batch N         packets per EspOutbound/EspInbound call (default 64)
  --ms N            measuring time per figure and trial in ms (default 200)
  --trials N        interleaved trials (default 5)
`;

const { values } = parseArgs({
  options: {
    alg: { type: 'string', multiple: true },
    engine: { type: 'string', multiple: true },
    bytes: { type: 'string', multiple: true },
    outer: { type: 'string', default: '1400' },
    batch: { type: 'string', default: '64' },
    ms: { type: 'string', default: '200' },
    trials: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const pattern = (n: number, seed: number) =>
  Array.from({ length: n }, (_, k) => ((seed * 31 + k * 7) & 0xff).toString(16).padStart(2, '0')).join('');
const algorithms: Record<string, AlgorithmCase> = {
  'aes-gcm-128': {
    name: 'aes-gcm-128',
    encryption: { algorithm: 'aes-gcm', keyBits: 128, icvBytes: 16, key: pattern(20, 1) },
  },
  'aes-gcm-256': {
    name: 'aes-gcm-256',
    encryption: { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 16, key: pattern(36, 1) },
  },
  'chacha20-poly1305': {
    name: 'chacha20-poly1305',
    encryption: { algorithm: 'chacha20-poly1305', key: pattern(36, 1) },
  },
};
const algs = (values.alg?.flatMap((s) => s.split(',')) ?? ['aes-gcm-256', 'chacha20-poly1305']).map(
  (name) => algorithms[name],
);
const sizes = (values.bytes?.flatMap((s) => s.split(',')) ?? ['64']).map(Number);
const outerBytes = Number(values.outer);
const batch = Number(values.batch);
const trials = Number(values.trials);
const ms = Number(values.ms);
if (
  algs.some((a) => a === undefined) ||
  sizes.some((n) => !(n >= 28 && n <= 1500)) ||
  !(outerBytes >= 256 && outerBytes <= 1900) ||
  !(batch >= 1) ||
  !(trials >= 1) ||
  !(ms > 0)
) {
  process.stderr.write(usage);
  process.exit(2);
}
const SLOT = 2048;
const HEADROOM = 128;

/** Rates of one figure: per second of this thread's CPU time, and per wall-clock second. */
interface Rate {
  cpu: number;
  wall: number;
}

/** Runs `round` for at least `ms` of wall time: how many rounds, and the thread CPU and wall seconds they took. */
function timeRounds(round: () => void): { rounds: number; cpu: number; wall: number } {
  const cpu0 = process.threadCpuUsage();
  const wall0 = performance.now();
  let rounds = 0;
  let wall = 0;
  do {
    round();
    rounds++;
    wall = performance.now() - wall0;
  } while (wall < ms);
  const cpu = process.threadCpuUsage(cpu0);
  return { rounds, cpu: (cpu.user + cpu.system) / 1e6, wall: wall / 1e3 };
}

/**
 * The rate of `work` alone, `ops` operations per call, where each call needs `restore` first (sealing
 * and opening happen in place): both are timed together and the restore's own time is taken off.
 */
function rateOf(work: () => void, restore: (() => void) | null, ops: number): Rate {
  const both = timeRounds(
    restore === null
      ? work
      : () => {
          restore();
          work();
        },
  );
  let cpu = both.cpu / both.rounds;
  let wall = both.wall / both.rounds;
  if (restore !== null) {
    const alone = timeRounds(restore);
    cpu -= alone.cpu / alone.rounds;
    wall -= alone.wall / alone.rounds;
  }
  return { cpu: ops / cpu, wall: ops / wall };
}

function check(v: PacketVector, from: number, to: number, verdict: number, what: string): void {
  for (let i = from; i < to; i++) {
    if (v.verdict[i] !== verdict) throw new Error(`${what}: packet ${i} has verdict ${v.verdict[i]}`);
  }
}

/**
 * Slots for the packets a mode makes: slot i from `base` for index i, always free (the bench sends
 * nothing on).
 */
function fixedSlots(base: number, slot: number): PacketSlots {
  return {
    claim(v: PacketVector, i: number): boolean {
      const start = base + i * slot;
      setPacket(v, i, start + HEADROOM, 0, start, start + slot);
      return true;
    },
    release(): void {},
  };
}

/** Inner packets delivered by IP-TFS reassembly, each into the next of `slots` pool-like slots. */
class SlotSink implements InnerPacketSink {
  readonly buffer: Uint8Array;
  delivered = 0;
  private next = 0;
  private readonly slots: number;

  constructor(slots: number) {
    this.slots = slots;
    this.buffer = new Uint8Array(slots * SLOT);
  }

  claim(length: number): number {
    if (length > SLOT - HEADROOM) return -1;
    const at = this.next * SLOT + HEADROOM;
    this.next = this.next + 1 === this.slots ? 0 : this.next + 1;
    return at;
  }

  commit(): void {
    this.delivered++;
  }
}

/** Sealed packets kept aside, put back into a working vector before each opening round. */
function sealedCopy(v: PacketVector, n: number): () => void {
  const bytes = v.buffer.slice();
  const offset = v.offset.slice(0, n);
  const length = v.length.slice(0, n);
  const start = v.start.slice(0, n);
  const end = v.end.slice(0, n);
  return () => {
    for (let i = 0; i < n; i++) {
      const a = offset[i]!;
      v.buffer.set(bytes.subarray(a, a + length[i]!), a);
      setPacket(v, i, a, length[i]!, start[i]!, end[i]!);
    }
    v.count = n;
  };
}

interface Figures {
  espSeal: Rate;
  tfsSend: Rate;
  espOpen: Rate;
  tfsReceive: Rate;
  innerPerOuter: number;
}

type Rounds = { readonly [K in Exclude<keyof Figures, 'innerPerOuter'>]: () => Rate } & {
  readonly innerPerOuter: number;
  close(): void;
};

/** Builds every SA and buffer for one engine and size, checks one round of each, and returns the figures. */
function prepare(alg: AlgorithmCase, engine: string, size: number): Rounds {
  const packet = innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: size - 28 });
  const capacity = Math.max(batch, 256);
  const encoder = new EspOutbound({ capacity });

  // Plain ESP, send: each round puts the inner packets back (the last round sealed them in place).
  const esp = saPair(alg, { extra: { engine } });
  const espOut = createSaRuntime(esp.out);
  const espIn = createSaRuntime(esp.in);
  const espTable = new InboundSaTable();
  espTable.add(espIn);
  const espDecoder = new EspInbound({ capacity, table: espTable });
  const plain = createPacketVector(new Uint8Array(SLOT * batch), batch);
  const restoreInner = () => {
    for (let i = 0; i < batch; i++) {
      const at = i * SLOT + HEADROOM;
      plain.buffer.set(packet, at);
      setPacket(plain, i, at, size, i * SLOT, (i + 1) * SLOT);
    }
    plain.count = batch;
  };
  const espSeal = () => encoder.encapsulate(espOut, plain, 0, batch, 0);
  restoreInner();
  espSeal();
  check(plain, 0, batch, VERDICT_FORWARD, 'plain ESP seal');

  // Plain ESP, receive: the sealed batch and the replay window put back each round.
  const restoreSealed = sealedCopy(plain, batch);
  const espReplay = espIn.replay!;
  const espTop = espOut.sequence!.next() - 1n;
  const restoreEspOpen = () => {
    restoreSealed();
    espReplay.reset(Number((espTop - BigInt(batch)) >> 32n), Number((espTop - BigInt(batch)) & 0xffffffffn));
  };
  const espOpen = () => espDecoder.decapsulate(plain, 0, batch, 0);
  restoreEspOpen();
  espOpen();
  check(plain, 0, batch, VERDICT_FORWARD, 'plain ESP open');

  // IP-TFS, send: a round offers the inner packets that fill `batch` outer payloads, `capacity` at a
  // time from the slots of a vector, as a worker's rx batches bring them (queued packets are copied,
  // not changed: the same slots serve every batch); then the outer packets are packed into slots of
  // the same buffer, as a worker's pool holds both, and sealed.
  const sink = new SlotSink(1024);
  const tfs = saPair(alg, {
    spi: 0x2001,
    mode: 'iptfs',
    extra: { engine, iptfs: { packetSize: outerBytes, padToSize: true } },
  });
  const tfsOut = createSaRuntime(tfs.out);
  const tfsIn = createSaRuntime(tfs.in, { modeEnvironment: { innerSink: () => sink } });
  const sender = iptfsStateOf(tfsOut)!.sender!;
  const receiver = iptfsStateOf(tfsIn)!.receiver!;
  const perRound = Math.floor((batch * sender.payloadDataBytes) / size);
  const outerSlot = HEADROOM + outerBytes + 64;
  const pool = new Uint8Array(SLOT * capacity + outerSlot * batch);
  const offered = createPacketVector(pool, capacity);
  for (let i = 0; i < capacity; i++) {
    pool.set(packet, i * SLOT + HEADROOM);
    setPacket(offered, i, i * SLOT + HEADROOM, size, i * SLOT, (i + 1) * SLOT);
  }
  offered.count = capacity;
  const outlet = createModeOutlet(createPacketVector(pool, batch), fixedSlots(SLOT * capacity, outerSlot));
  let made = 0;
  const tfsSend = () => {
    for (let i = 0; i < perRound; i += capacity) {
      encoder.encapsulate(tfsOut, offered, 0, Math.min(perRound - i, capacity), 0);
    }
    outlet.from = 0;
    outlet.to = batch;
    outlet.drain = true;
    made = encoder.emitModePackets(tfsOut, 0, outlet);
  };
  tfsSend();
  check(offered, 0, capacity, VERDICT_CONSUMED, 'IP-TFS enqueue');
  check(outlet.vector, 0, made, VERDICT_FORWARD, 'IP-TFS seal');
  if (made !== batch || sender.queue.count !== 0)
    throw new Error(`IP-TFS made ${made} outer packets, ${sender.queue.count} inner left`);
  if (outlet.vector.length[0] !== outerBytes)
    throw new Error(`outer packets of ${outlet.vector.length[0]} octets, not ${outerBytes}`);

  // IP-TFS, receive: the sealed outer packets, the replay window and the receiver's stream position
  // put back each round; every inner packet must come out.
  const tfsDecoder = new EspInbound({
    capacity,
    table: (() => {
      const t = new InboundSaTable();
      t.add(tfsIn);
      return t;
    })(),
  });
  const restoreOuter = sealedCopy(outlet.vector, batch);
  const tfsReplay = tfsIn.replay!;
  const tfsTop = tfsOut.sequence!.next() - 1n - BigInt(batch);
  const restoreTfsOpen = () => {
    restoreOuter();
    tfsReplay.reset(Number(tfsTop >> 32n), Number(tfsTop & 0xffffffffn));
    receiver.resync(Number(tfsTop) + 1);
  };
  const tfsReceive = () => tfsDecoder.decapsulate(outlet.vector, 0, batch, 0);
  restoreTfsOpen();
  tfsReceive();
  check(outlet.vector, 0, batch, VERDICT_CONSUMED, 'IP-TFS open');
  if (sink.delivered !== perRound)
    throw new Error(`IP-TFS delivered ${sink.delivered} inner packets of ${perRound}`);

  return {
    espSeal: () => rateOf(espSeal, restoreInner, batch),
    tfsSend: () => rateOf(tfsSend, null, perRound),
    espOpen: () => rateOf(espOpen, restoreEspOpen, batch),
    tfsReceive: () => rateOf(tfsReceive, restoreTfsOpen, perRound),
    innerPerOuter: perRound / batch,
    close: () => {
      for (const sa of [espOut, espIn, tfsOut, tfsIn]) sa.destroy();
    },
  };
}

const best = (a: Rate, b: Rate): Rate => ({ cpu: Math.max(a.cpu, b.cpu), wall: Math.max(a.wall, b.wall) });

function measure(alg: AlgorithmCase, engine: string, size: number): Figures {
  const r = prepare(alg, engine, size);
  const zero = { cpu: 0, wall: 0 };
  const f: Figures = { espSeal: zero, tfsSend: zero, espOpen: zero, tfsReceive: zero, innerPerOuter: 0 };
  // Warm-up: every path optimised before the first trial.
  for (let k = 0; k < 2; k++) {
    r.espSeal();
    r.tfsSend();
    r.espOpen();
    r.tfsReceive();
  }
  for (let t = 0; t < trials; t++) {
    f.espSeal = best(f.espSeal, r.espSeal());
    f.tfsSend = best(f.tfsSend, r.tfsSend());
    f.espOpen = best(f.espOpen, r.espOpen());
    f.tfsReceive = best(f.tfsReceive, r.tfsReceive());
  }
  f.innerPerOuter = r.innerPerOuter;
  r.close();
  return f;
}

function engineRuns(alg: AlgorithmCase, engine: string): boolean {
  try {
    createSaRuntime(saPair(alg, { extra: { engine } }).out).destroy();
    return true;
  } catch {
    return false;
  }
}

const engines = values.engine?.flatMap((s) => s.split(',')) ?? engineNames();
/** Every (algorithm, engine) pair asked for that runs here. */
const runs = (algs as AlgorithmCase[]).flatMap((alg) =>
  engines.filter((e) => engineRuns(alg, e)).map((engine) => ({ alg, engine })),
);
if (runs.length === 0) {
  process.stderr.write('none of the engines asked for runs any of the algorithms asked for\n');
  process.exit(2);
}
process.stdout.write(`${machineLine(1)}\n`);
process.stdout.write(
  `IPv4 in IPv4; IP-TFS outer packets of ${outerBytes} octets (packetSize), ${batch} per ` +
    `engine call; plain ESP ${batch} inner packets per engine call; best of ${trials} interleaved trials ` +
    `of ${ms} ms; rates per CPU-second of the one thread (wall-clock rate in brackets)\n\n`,
);
const rate = (r: Rate) => `${formatRate(r.cpu)} (${formatRate(r.wall)})`;
const ratio = (a: Rate, b: Rate) => `${(a.cpu / b.cpu).toFixed(2)}x (${(a.wall / b.wall).toFixed(2)}x)`;
const rows: string[][] = [];
for (const { alg, engine } of runs) {
  for (const size of sizes) {
    const f = measure(alg, engine, size);
    rows.push([
      alg.name,
      engine,
      String(size),
      f.innerPerOuter.toFixed(1),
      rate(f.espSeal),
      rate(f.tfsSend),
      `${gbits(f.tfsSend.cpu, size)}`,
      ratio(f.tfsSend, f.espSeal),
      rate(f.espOpen),
      rate(f.tfsReceive),
      ratio(f.tfsReceive, f.espOpen),
    ]);
  }
}
process.stdout.write(
  `${formatTable(
    [
      'algorithm',
      'engine',
      'inner bytes',
      'inner per outer',
      'send: plain ESP inner/s',
      'IP-TFS inner/s',
      'IP-TFS inner Gbit/s',
      'IP-TFS / ESP (target >= 5)',
      'receive: plain ESP inner/s',
      'IP-TFS inner/s',
      'IP-TFS / ESP',
    ],
    rows,
  )}\n`,
);
const refRows: string[][] = [];
for (const alg of algs as AlgorithmCase[]) {
  const cipherName =
    alg.encryption.algorithm === 'aes-gcm' ? `aes-${alg.encryption.keyBits}-gcm` : 'chacha20-poly1305';
  for (const size of [...sizes, outerBytes]) {
    const bytesPerSecond = opensslSpeed(cipherName, size);
    refRows.push([
      cipherName,
      String(size),
      bytesPerSecond === null ? 'n/a' : formatRate(bytesPerSecond / size),
      bytesPerSecond === null ? 'n/a' : gbits(bytesPerSecond / size, size),
    ]);
  }
}
process.stdout.write(
  `\nreference, same run: ${opensslVersion()}, openssl speed -evp, one process\n${formatTable(
    ['openssl -evp', 'bytes', 'ops/s', 'Gbit/s'],
    refRows,
  )}\n`,
);
