import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  type CipherSpec,
  type CryptoEngine,
  CryptoStatus,
  cipherGeometry,
  cipherSpecName,
  copyBatch,
  encryptionKeyBytes,
  getEngine,
  integrityKeyBytes,
  isCombinedMode,
  layOutPackets,
  type PacketBatch,
  type SaCipher,
} from '@espresso/crypto';
import { formatRate, gbits, machineLine } from '../lib/measure.ts';
import { opensslSpeed, opensslVersion } from '../lib/openssl-speed.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- crypto-native [options]

The native batch engine ('openssl': one N-API call per batch) against node:crypto per packet, sodium,
noble and \`openssl speed -evp\` measured in the same run, on one thread; then the cost of the call itself.

  --bytes N[,N]   payload bytes per packet (default 64,512,1400; AES-CBC rounds down to 16)
  --batch N       packets per seal/open call (default 32)
  --ms N          measuring time per trial in ms (default 200; 3 trials, best kept)
`;

const { values } = parseArgs({
  options: {
    bytes: { type: 'string', default: '64,512,1400' },
    batch: { type: 'string', default: '32' },
    ms: { type: 'string', default: '200' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const sizes = values.bytes.split(',').map(Number);
const batchSize = Number(values.batch);
const minMs = Number(values.ms);
if (!Number.isInteger(batchSize) || batchSize < 1 || sizes.some((n) => !Number.isInteger(n) || n < 16)) {
  process.stderr.write(usage);
  process.exit(2);
}

const native = getEngine('openssl');
if (!native.available) {
  process.stderr.write(`crypto-native: the native engine is unavailable: ${native.unavailableReason}\n`);
  process.exit(1);
}
const others = ['node', 'sodium', 'noble'].map((name) => getEngine(name));

const base = { icvBytes: 16, integrity: 'none', esn: false, implicitIv: false } as const;
const algorithms: readonly { spec: CipherSpec; speed: string }[] = [
  { spec: { ...base, encryption: 'aes-gcm', keyBits: 256 }, speed: 'aes-256-gcm' },
  { spec: { ...base, encryption: 'aes-gcm', keyBits: 128 }, speed: 'aes-128-gcm' },
  { spec: { ...base, encryption: 'chacha20-poly1305', keyBits: 256 }, speed: 'chacha20-poly1305' },
  {
    spec: { ...base, encryption: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha256-128' },
    speed: 'aes-256-cbc + hmac sha256',
  },
];

const payloadBytes = (spec: CipherSpec, n: number): number =>
  spec.encryption === 'aes-cbc' ? n - (n % 16) : n;

function patternBytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => (seed * 31 + k * 7) & 0xff);
}

function keysFor(spec: CipherSpec) {
  return {
    encryptionKey: patternBytes(encryptionKeyBytes(spec), 1),
    integrityKey: patternBytes(isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity), 2),
  };
}

/** `count` packets in 2 KiB slots, as the packet pool holds them. */
function benchBatch(spec: CipherSpec, bytes: number, count: number): PacketBatch {
  const g = cipherGeometry(spec);
  const gap = Math.max(0, 2048 - (8 + g.ivBytes + bytes + g.icvBytes));
  const packets = Array.from({ length: count }, (_, k) => ({
    spi: 0x1000,
    seq: k + 1,
    seqHigh: 0,
    iv: patternBytes(g.ivBytes, k),
    payload: patternBytes(bytes, k + 100),
  }));
  return layOutPackets(spec, packets, { gaps: new Array(count).fill(gap) });
}

/**
 * Operations per second of this thread's CPU time (the best of `trials` runs of `minMs` each). CPU time,
 * not wall time, because \`openssl speed\` divides by CPU time too, and because the machine is shared: a
 * thread that is not scheduled is not measured.
 */
function measureCpuRate(round: () => void, opsPerRound: number, trials = 3): number {
  const run = (ms: number): number => {
    const cpu0 = process.threadCpuUsage();
    const limit = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
    let rounds = 0;
    while (process.hrtime.bigint() < limit) {
      round();
      rounds++;
    }
    const cpu = process.threadCpuUsage(cpu0);
    return (rounds * opsPerRound) / ((cpu.user + cpu.system) / 1e6);
  };
  run(Math.min(150, minMs));
  let best = 0;
  for (let t = 0; t < trials; t++) best = Math.max(best, run(minMs));
  return best;
}

const allOk = (b: PacketBatch): boolean => b.status.subarray(0, b.count).every((s) => s === CryptoStatus.ok);

interface Rates {
  readonly seal: number;
  readonly open: number;
}

/**
 * Packets per second sealing, and opening. Open decrypts in place, so each open round first copies the
 * sealed packets back; that copy is timed alone and its time taken off.
 */
function measureCipher(cipher: SaCipher, spec: CipherSpec, bytes: number, count: number): Rates {
  const batch = benchBatch(spec, bytes, count);
  const seal = measureCpuRate(() => cipher.seal(batch, 0, count), count);
  const sealed = benchBatch(spec, bytes, count);
  cipher.seal(sealed, 0, count);
  const work = copyBatch(sealed);
  const restore = () => {
    for (let k = 0; k < count; k++) {
      const o = sealed.offset[k]!;
      work.buffer.set(sealed.buffer.subarray(o, o + sealed.length[k]!), o);
    }
  };
  const restoreRate = measureCpuRate(restore, count);
  const both = measureCpuRate(() => {
    restore();
    cipher.open(work, 0, count);
  }, count);
  if (!allOk(sealed) || !allOk(work))
    throw new Error(`${cipher.engine} ${cipherSpecName(spec)}: a packet failed`);
  return { seal, open: 1 / (1 / both - 1 / restoreRate) };
}

function measureEngine(engine: CryptoEngine, spec: CipherSpec, bytes: number): Rates | undefined {
  if (!engine.available || !engine.supports(spec)) return undefined;
  const cipher = engine.createCipher(spec, keysFor(spec));
  try {
    return measureCipher(cipher, spec, bytes, batchSize);
  } finally {
    cipher.destroy();
  }
}

/** `openssl speed -hmac DIGEST` for one size, in bytes per second. */
function opensslHmacSpeed(digest: string, bytes: number): number | null {
  const run = spawnSync('openssl', ['speed', '-hmac', digest, '-bytes', String(bytes), '-seconds', '1'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const last =
    run.status === 0
      ? run.stdout
          .split('\n')
          .filter((l) => /[\d.]+k\s*$/.test(l))
          .at(-1)
      : undefined;
  const match = last?.trim().match(/([\d.]+)k$/);
  return match?.[1] === undefined ? null : Number(match[1]) * 1000;
}

/** openssl speed in packets per second for this payload size; CBC + HMAC as the sum of both times. */
function opensslPackets(spec: CipherSpec, speed: string, bytes: number): number | undefined {
  if (spec.encryption !== 'aes-cbc') {
    const rate = opensslSpeed(speed, bytes);
    return rate === null ? undefined : rate / bytes;
  }
  const macBytes = 8 + 16 + bytes;
  const cbc = opensslSpeed(`aes-${spec.keyBits}-cbc`, bytes);
  const hmac = opensslHmacSpeed('sha256', macBytes);
  return cbc === null || hmac === null ? undefined : 1 / (bytes / cbc + macBytes / hmac);
}

const ratio = (x: number, ref: number | undefined): string =>
  ref === undefined ? '-' : `${(x / ref).toFixed(2)}x`;

process.stdout.write(`${machineLine(1)}\n`);
process.stdout.write(
  `openssl speed: ${opensslVersion()} (the system CLI; the native engine runs on node's own OpenSSL)\n` +
    `batches of ${batchSize} packets in 2 KiB slots; bytes = payload per packet, Gbit/s counts payload; ` +
    `node = node:crypto with a new cipher per packet; rates per second of thread CPU time ` +
    `(openssl speed: of user CPU time)\n\n`,
);

const rows: string[][] = [];
for (const { spec, speed } of algorithms) {
  for (const size of sizes) {
    const bytes = payloadBytes(spec, size);
    const reference = opensslPackets(spec, speed, bytes);
    const mine = measureEngine(native, spec, bytes)!;
    const theirs = others.map((e) => measureEngine(e, spec, bytes));
    const [node, sodium, noble] = theirs;
    rows.push([
      cipherSpecName(spec),
      String(bytes),
      `${formatRate(mine.seal)} ${gbits(mine.seal, bytes)}`,
      `${formatRate(mine.open)} ${gbits(mine.open, bytes)}`,
      reference === undefined ? '-' : `${formatRate(reference)} ${gbits(reference, bytes)}`,
      ratio(mine.seal, reference),
      ratio(mine.seal, node?.seal),
      ratio(mine.seal, sodium?.seal),
      ratio(mine.seal, noble?.seal),
      theirs
        .map((r, k) => (r === undefined ? '' : `${others[k]!.name} ${formatRate(r.seal)}`))
        .join(' ')
        .trim(),
    ]);
    process.stdout.write(`  ${cipherSpecName(spec)} ${bytes} B measured\n`);
  }
}
process.stdout.write(
  `\n${formatTable(
    [
      'spec',
      'bytes',
      'native seal',
      'native open',
      'openssl speed, same run',
      'vs openssl speed',
      'vs node',
      'vs sodium',
      'vs noble',
      'others, seal pkt/s',
    ],
    rows,
  )}\n`,
);

// The cost of crossing into the addon: an empty batch, then packets per call from 1 up.
const gcm = algorithms[0]!.spec;
const callCipher = native.createCipher(gcm, keysFor(gcm));
const empty = benchBatch(gcm, 64, 1);
const calls = measureCpuRate(() => callCipher.seal(empty, 0, 0), 1);
const sweep = [1, 4, 16, 64, 256].map((count) => {
  const batch = benchBatch(gcm, 64, count);
  const rate = measureCpuRate(() => callCipher.seal(batch, 0, count), count);
  return [String(count), formatRate(rate), `${(1e9 / rate).toFixed(0)} ns`];
});
callCipher.destroy();
process.stdout.write(
  `\ncall overhead (${cipherSpecName(gcm)}, 64 B): an empty seal call costs ${(1e9 / calls).toFixed(0)} ns\n` +
    `${formatTable(['packets per call', 'seal pkt/s', 'per packet'], sweep)}\n`,
);
