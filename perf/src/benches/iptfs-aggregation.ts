import { parseArgs } from 'node:util';
import { createSaCipher } from '@espresso/crypto';
import {
  createPacketVector,
  createSaRuntime,
  EspOutbound,
  PacketFlag,
  type PacketVector,
  resolveSaConfig,
  type SaParameters,
  SaRuntime,
  setPacket,
  VERDICT_FORWARD,
  zeroSaParameters,
} from '@espresso/esp';
import { type AlgorithmCase, innerPacket, saPair } from '@espresso/esp/testing';
import { IptfsSender, resolveIptfsConfig } from '@espresso/iptfs';
import { formatRate, gbits, machineLine, measureRate } from '../lib/measure.ts';
import { opensslSpeed, opensslVersion } from '../lib/openssl-speed.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- iptfs-aggregation [options]

Small inner packets through IP-TFS (RFC 9347) aggregated into fixed-size outer packets, packed by the
IP-TFS sender and sealed by ESP (iptfs mode, one engine call per batch of outer packets), against plain
ESP tunnel mode sealing each small packet, on one thread. Both count inner packets per second; the
ratio is IP-TFS / plain ESP (target >= 5).

  --alg NAME        aes-gcm-128, aes-gcm-256, chacha20-poly1305 (default aes-gcm-256)
  --engine NAME     crypto engine (default auto: the registry's fastest)
  --bytes N[,N]     inner IP packet sizes (default 64)
  --outer N         outer IP packet size, IP-TFS pkt_size (default 1400)
  --batch N         outer packets (IP-TFS) or inner packets (ESP) per engine call (default 64)
  --ms N            measuring time per trial in ms (default 300; 3 trials, best kept)
`;

const { values } = parseArgs({
  options: {
    alg: { type: 'string', default: 'aes-gcm-256' },
    engine: { type: 'string', default: 'auto' },
    bytes: { type: 'string', multiple: true },
    outer: { type: 'string', default: '1400' },
    batch: { type: 'string', default: '64' },
    ms: { type: 'string', default: '300' },
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
const alg = algorithms[values.alg];
const sizes = (values.bytes?.flatMap((s) => s.split(',')) ?? ['64']).map(Number);
const outerBytes = Number(values.outer);
const batch = Number(values.batch);
if (alg === undefined || sizes.some((n) => !(n >= 28)) || !(outerBytes >= 256) || !(batch >= 1)) {
  process.stderr.write(usage);
  process.exit(2);
}
const options = { minMs: Number(values.ms), warmupMs: 150, trials: 3 };
const SLOT = 2048;
const HEADROOM = 128;

function allForwarded(v: PacketVector, n: number, what: string): void {
  for (let i = 0; i < n; i++) {
    if (v.verdict[i] !== VERDICT_FORWARD)
      throw new Error(`${what}: packet ${i} dropped (reason ${v.verdict[i]})`);
  }
}

/** Plain ESP tunnel mode: every inner packet sealed on its own (one engine call per batch). */
function plainEsp(size: number): number {
  const pair = saPair(alg!, { extra: { engine: values.engine } });
  const sa = createSaRuntime(pair.out);
  const encoder = new EspOutbound({ capacity: batch });
  const packet = innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: size - 28 });
  const v = createPacketVector(new Uint8Array(SLOT * batch), batch);
  // Sealing encrypts the slot in place: each round first puts the inner packets back. That restore is
  // timed on its own and taken off, so the figure is ESP's alone.
  const restore = () => {
    for (let i = 0; i < batch; i++) {
      const at = i * SLOT + HEADROOM;
      v.buffer.set(packet, at);
      setPacket(v, i, at, size, i * SLOT, (i + 1) * SLOT);
    }
    v.count = batch;
  };
  const seal = () => encoder.encapsulate(sa, v, 0, batch, 0);
  restore();
  seal();
  allForwarded(v, batch, 'plain ESP');
  const restoreRate = measureRate(restore, batch, options).perSecond;
  const both = measureRate(
    () => {
      restore();
      seal();
    },
    batch,
    options,
  ).perSecond;
  const rate = 1 / (1 / both - 1 / restoreRate);
  sa.destroy();
  return rate;
}

/** An outbound SA in iptfs mode (the SA schema does not name the mode yet: a tunnel config, renamed). */
function iptfsSa(): SaRuntime {
  const params = resolveSaConfig(saPair(alg!, { extra: { engine: values.engine } }).out);
  try {
    const cipher = createSaCipher(params.cipherSpec, params.keys, params.engine);
    return new SaRuntime({ ...params, mode: 'iptfs' as unknown as SaParameters['mode'] }, cipher);
  } finally {
    zeroSaParameters(params);
  }
}

interface IptfsFigures {
  inner: number;
  outer: number;
  perOuter: number;
}

/**
 * IP-TFS: inner packets are queued (copied into the SA's send queue as they would arrive from the
 * ring), packed into `batch` outer payloads in pool slots, and sealed by ESP in one call.
 */
function iptfs(size: number): IptfsFigures {
  const sa = iptfsSa();
  const payloadBytes =
    Math.floor((outerBytes - 20 - sa.espHeaderBytes - sa.icvBytes) / sa.alignBytes) * sa.alignBytes - 2;
  const sender = new IptfsSender(resolveIptfsConfig({ packetSize: outerBytes, padToSize: true }), {
    payloadBytes,
  });
  const encoder = new EspOutbound({ capacity: batch });
  const packet = innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: size - 28 });
  const perRound = Math.floor((batch * (payloadBytes - 4)) / size);
  const source = new Uint8Array(size * perRound);
  for (let i = 0; i < perRound; i++) source.set(packet, i * size);
  const slot = HEADROOM + payloadBytes + 64;
  const v = createPacketVector(new Uint8Array(slot * batch), batch);
  let carried = 0;
  const round = () => {
    for (let i = 0; i < perRound; i++) sender.enqueue(source, i * size, size, 0);
    let n = 0;
    while (n < batch && sender.queue.count > 0) {
      const start = n * slot;
      setPacket(v, n, start + HEADROOM, sender.emit(v.buffer, start + HEADROOM, 0), start, start + slot);
      v.flags[n] = PacketFlag.modePayload;
      n++;
    }
    v.count = n;
    encoder.encapsulate(sa, v, 0, n, 0);
    carried = n;
  };
  round();
  allForwarded(v, carried, 'IP-TFS');
  if (v.length[0] !== outerBytes)
    throw new Error(`outer packets of ${v.length[0]} octets, not ${outerBytes}`);
  const rate = measureRate(round, perRound, options).perSecond;
  sa.destroy();
  return { inner: rate, outer: (rate * batch) / perRound, perOuter: perRound / batch };
}

process.stdout.write(`${machineLine(1)}\n`);
process.stdout.write(
  `${alg.name}, engine ${values.engine}; IPv4 in IPv4; IP-TFS outer packets of ${outerBytes} octets ` +
    `(pkt_size), ${batch} per engine call; plain ESP: ${batch} inner packets per engine call\n\n`,
);
const rows: string[][] = [];
for (const size of sizes) {
  const esp = plainEsp(size);
  const tfs = iptfs(size);
  rows.push([
    String(size),
    formatRate(esp),
    gbits(esp, size),
    formatRate(tfs.inner),
    gbits(tfs.inner, size),
    tfs.perOuter.toFixed(1),
    formatRate(tfs.outer),
    `${(tfs.inner / esp).toFixed(2)}x`,
  ]);
}
process.stdout.write(
  `${formatTable(
    [
      'inner bytes',
      'plain ESP inner/s',
      'Gbit/s',
      'IP-TFS inner/s',
      'Gbit/s',
      'inner per outer',
      'outer/s',
      'IP-TFS / ESP (target >= 5)',
    ],
    rows,
  )}\n`,
);
const cipherName =
  alg.encryption.algorithm === 'aes-gcm' ? `aes-${alg.encryption.keyBits}-gcm` : 'chacha20-poly1305';
const refRows: string[][] = [];
for (const size of [...sizes, outerBytes]) {
  const bytesPerSecond = opensslSpeed(cipherName, size);
  refRows.push([
    cipherName,
    String(size),
    bytesPerSecond === null ? 'n/a' : formatRate(bytesPerSecond / size),
    bytesPerSecond === null ? 'n/a' : gbits(bytesPerSecond / size, size),
  ]);
}
process.stdout.write(
  `\nreference, same run: ${opensslVersion()}, openssl speed -evp, one process\n${formatTable(
    ['openssl -evp', 'bytes', 'ops/s', 'Gbit/s'],
    refRows,
  )}\n`,
);
