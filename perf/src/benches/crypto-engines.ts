import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  allCipherSpecs,
  type CipherSpec,
  CryptoStatus,
  cipherGeometry,
  cipherSpecVariantName,
  copyBatch,
  cryptoEngines,
  encryptionKeyBytes,
  integrityKeyBytes,
  isCombinedMode,
  layOutPackets,
  type PacketBatch,
  type SaCipher,
} from '@espresso/crypto';
import { formatRate, gbits, machineLine, measureRate } from '../lib/measure.ts';
import { opensslSpeed, opensslVersion } from '../lib/openssl-speed.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- crypto-engines [options]

Raw batch seal and open rates of every crypto engine, one thread, beside \`openssl speed\` run now.

  --engine NAME[,NAME]   engines to run (default: every available one)
  --alg SPEC[,SPEC]      specs by name (default: aes-gcm-128-icv16,aes-gcm-256-icv16,
                         chacha20-poly1305-icv16,aes-cbc-256+hmac-sha256-128; /esn and /iiv variants allowed)
  --bytes N[,N]          payload bytes per packet (default: 64,512,1400; AES-CBC rounds up to 16)
  --batch N              packets per seal/open call (default 64)
  --ms N                 measuring time per trial in ms (default 200; 5 trials, best kept)
  --no-openssl           skip the openssl speed reference
`;

const { values } = parseArgs({
  options: {
    engine: { type: 'string', multiple: true },
    alg: { type: 'string', multiple: true },
    bytes: { type: 'string', multiple: true },
    batch: { type: 'string', default: '64' },
    ms: { type: 'string', default: '200' },
    'no-openssl': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const list = (v: string[] | undefined): string[] | undefined =>
  v?.flatMap((s) => s.split(',')).filter(Boolean);
const defaultAlgs = [
  'aes-gcm-128-icv16',
  'aes-gcm-256-icv16',
  'chacha20-poly1305-icv16',
  'aes-cbc-256+hmac-sha256-128',
];
const algNames = list(values.alg) ?? defaultAlgs;
const sizes = (list(values.bytes) ?? ['64', '512', '1400']).map(Number);
const batchSize = Number(values.batch);
const minMs = Number(values.ms);
const specsByName = new Map(allCipherSpecs().map((s) => [cipherSpecVariantName(s), s]));
const specs = algNames.map((name) => {
  const spec = specsByName.get(name);
  if (spec === undefined) {
    process.stderr.write(
      `crypto-engines: unknown spec '${name}' (have: ${[...specsByName.keys()].join(', ')})\n`,
    );
    process.exit(2);
  }
  return spec;
});
const wanted = list(values.engine);
const engines = cryptoEngines.filter((e) => e.available && (wanted === undefined || wanted.includes(e.name)));
for (const e of cryptoEngines) {
  if (!e.available && (wanted === undefined || wanted.includes(e.name))) {
    process.stdout.write(`engine ${e.name}: not available (${e.unavailableReason})\n`);
  }
}
if (wanted !== undefined) {
  for (const name of wanted) {
    if (!cryptoEngines.some((e) => e.name === name)) {
      process.stderr.write(`crypto-engines: unknown engine '${name}'\n`);
      process.exit(2);
    }
  }
}
if (!Number.isInteger(batchSize) || batchSize < 1 || sizes.some((n) => !Number.isInteger(n) || n < 0)) {
  process.stderr.write(usage);
  process.exit(2);
}

const payloadBytes = (spec: CipherSpec, n: number): number =>
  spec.encryption === 'aes-cbc' ? Math.ceil(n / 16) * 16 : n;

/** The openssl speed figure (operations per second) that matches a spec, and how it was obtained. */
function opensslReference(spec: CipherSpec, bytes: number): { label: string; perSecond: number } | undefined {
  if (values['no-openssl']) return undefined;
  if (spec.encryption === 'aes-gcm' || spec.encryption === 'chacha20-poly1305') {
    const cipher = spec.encryption === 'aes-gcm' ? `aes-${spec.keyBits}-gcm` : 'chacha20-poly1305';
    const rate = opensslSpeed(cipher, bytes);
    return rate === null ? undefined : { label: `-evp ${cipher}`, perSecond: rate / bytes };
  }
  if (spec.encryption === 'aes-cbc' && spec.integrity === 'hmac-sha256-128') {
    // CBC over the payload, then HMAC over header + IV + ciphertext: the two times add up per packet.
    const cipher = `aes-${spec.keyBits}-cbc`;
    const cbc = opensslSpeed(cipher, bytes);
    const macBytes = bytes + 24;
    const hmac = opensslHmacSpeed('sha256', macBytes);
    if (cbc === null || hmac === null) return undefined;
    return { label: `-evp ${cipher} + -hmac sha256`, perSecond: 1 / (bytes / cbc + macBytes / hmac) };
  }
  return undefined;
}

/** `openssl speed -hmac DIGEST` for one size, in bytes per second (same output format as -evp). */
function opensslHmacSpeed(digest: string, bytes: number): number | null {
  const run = spawnSync('openssl', ['speed', '-hmac', digest, '-bytes', String(bytes), '-seconds', '1'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (run.status !== 0 || typeof run.stdout !== 'string') return null;
  const match = run.stdout
    .split('\n')
    .filter((l) => /\d+(\.\d+)?k\s*$/.test(l.trim()))
    .at(-1)
    ?.trim()
    .match(/([\d.]+)k$/);
  return match?.[1] === undefined ? null : Number(match[1]) * 1000;
}

function patternBytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => (seed * 31 + k * 7) & 0xff);
}

/** A batch of `count` packets in 2 KiB slots, the way the packet pool holds them. */
function benchBatch(spec: CipherSpec, bytes: number, count: number): PacketBatch {
  const g = cipherGeometry(spec);
  const packetSize = 8 + g.ivBytes + bytes + g.icvBytes;
  const gap = Math.max(0, 2048 - packetSize);
  const packets = Array.from({ length: count }, (_, k) => ({
    spi: 0x1000,
    seq: k + 1,
    seqHigh: 0,
    iv: patternBytes(g.ivBytes, k),
    payload: patternBytes(bytes, k + 100),
  }));
  return layOutPackets(spec, packets, { gaps: new Array(count).fill(gap) });
}

function allOk(batch: PacketBatch): boolean {
  return batch.status.subarray(0, batch.count).every((s) => s === CryptoStatus.ok);
}

interface Row {
  seal: number;
  open: number;
}

function measureEngine(cipher: SaCipher, spec: CipherSpec, bytes: number): Row {
  const batch = benchBatch(spec, bytes, batchSize);
  const n = batch.count;
  const options = { minMs, warmupMs: Math.min(150, minMs), trials: 5 };
  const seal = measureRate(() => cipher.seal(batch, 0, n), n, options).perSecond;

  // Open consumes its input (it decrypts in place), so each round first restores the sealed packets;
  // the restore alone is timed too and taken off.
  const sealed = copyBatch(batch);
  cipher.seal(sealed, 0, n);
  const check = copyBatch(sealed);
  cipher.open(check, 0, n);
  if (!allOk(sealed) || !allOk(check))
    throw new Error(`${cipher.engine} ${cipherSpecVariantName(spec)}: self-check failed`);
  const work = copyBatch(sealed);
  const spans = Array.from(
    { length: n },
    (_, k) => [work.offset[k]!, work.offset[k]! + work.length[k]!] as const,
  );
  const restore = () => {
    for (const [a, b] of spans) work.buffer.set(sealed.buffer.subarray(a, b), a);
  };
  const restoreRate = measureRate(restore, n, options).perSecond;
  const bothRate = measureRate(
    () => {
      restore();
      cipher.open(work, 0, n);
    },
    n,
    options,
  ).perSecond;
  if (!allOk(work))
    throw new Error(`${cipher.engine} ${cipherSpecVariantName(spec)}: open failed while measured`);
  const open = 1 / (1 / bothRate - 1 / restoreRate);
  return { seal, open };
}

const ratio = (x: number, ref: number | undefined): string =>
  ref === undefined ? 'n/a' : `${(x / ref).toFixed(2)}x`;

process.stdout.write(`${machineLine(1)}\n`);
process.stdout.write(
  `reference: ${opensslVersion()} (openssl speed, one process); batches of ${batchSize} packets in 2 KiB slots; ` +
    `bytes = payload encrypted per packet (Gbit/s counts those)\n\n`,
);

const rows: string[][] = [];
for (const spec of specs) {
  const name = cipherSpecVariantName(spec);
  for (const size of sizes) {
    const bytes = payloadBytes(spec, size);
    const ref = opensslReference(spec, bytes);
    for (const engine of engines) {
      if (!engine.supports(spec)) continue;
      const keys = {
        encryptionKey: patternBytes(encryptionKeyBytes(spec), 1),
        integrityKey: patternBytes(
          isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity),
          2,
        ),
      };
      const cipher = engine.createCipher(spec, keys);
      const r = measureEngine(cipher, spec, bytes);
      cipher.destroy();
      rows.push([
        engine.name,
        name,
        String(bytes),
        formatRate(r.seal),
        gbits(r.seal, bytes),
        ratio(r.seal, ref?.perSecond),
        formatRate(r.open),
        gbits(r.open, bytes),
        ratio(r.open, ref?.perSecond),
        ref === undefined
          ? 'n/a'
          : `${formatRate(ref.perSecond)} ${gbits(ref.perSecond, bytes)} (${ref.label})`,
      ]);
      process.stdout.write(`  ${engine.name} ${name} ${bytes} B done\n`);
    }
  }
}
process.stdout.write(
  `\n${formatTable(
    [
      'engine',
      'spec',
      'bytes',
      'seal pkt/s',
      'seal',
      'seal/openssl',
      'open pkt/s',
      'open',
      'open/openssl',
      'openssl speed (same run)',
    ],
    rows,
  )}\n`,
);
