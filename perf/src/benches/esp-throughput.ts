import { parseArgs } from 'node:util';
import {
  type CipherSpec,
  CryptoStatus,
  copyBatch,
  createPacketBatch,
  cryptoEngines,
  type PacketBatch,
  type SaCipher,
} from '@espresso/crypto';
import {
  createPacketVector,
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  type PacketVector,
  resolveSaConfig,
  type SaConfig,
  type SaRuntime,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { type AlgorithmCase, innerPacket, saPair } from '@espresso/esp/testing';
import { formatRate, gbits, machineLine, measureRate, type RateClock } from '../lib/measure.ts';
import { opensslSpeed, opensslVersion } from '../lib/openssl-speed.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- esp-throughput [options]

ESP encrypt (tunnel mode, IPv4 inside) and decrypt packets/s on one thread, per engine, algorithm and
inner packet size, beside the bare crypto loop of the same engine (batch seal/open of the same ESP
payloads with no ESP framing) and \`openssl speed -evp\` measured in the same run.

  --engine NAME[,NAME]   engines (default: every available one)
  --alg NAME[,NAME]      aes-gcm-128, aes-gcm-256, chacha20-poly1305, aes-cbc-256-sha256 (default: all four)
  --bytes N[,N]          inner IP packet sizes (default: 64,512,1400)
  --batch N              packets per batch (default 64)
  --ms N                 measuring time per trial in ms (default 250; 3 trials, best kept)
  --outer 4|6            the outer header's IP version (default 4)
  --encap                ESP in UDP (RFC 3948) instead of ESP straight in IP
  --clock cpu|wall       divide by this thread's CPU time (default: what openssl speed does too, and
                         what other jobs on a shared machine cannot inflate) or by elapsed time
`;

const { values } = parseArgs({
  options: {
    engine: { type: 'string', multiple: true },
    alg: { type: 'string', multiple: true },
    bytes: { type: 'string', multiple: true },
    batch: { type: 'string', default: '64' },
    ms: { type: 'string', default: '250' },
    clock: { type: 'string', default: 'cpu' },
    outer: { type: 'string', default: '4' },
    encap: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const list = (v: string[] | undefined) => v?.flatMap((s) => s.split(',')).filter(Boolean);
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
  'aes-cbc-256-sha256': {
    name: 'aes-cbc-256-sha256',
    encryption: { algorithm: 'aes-cbc', keyBits: 256, key: pattern(32, 1) },
    integrity: { algorithm: 'hmac-sha256-128', key: pattern(32, 2) },
  },
};

const algNames = list(values.alg) ?? Object.keys(algorithms);
for (const name of algNames) {
  if (algorithms[name] === undefined) {
    process.stderr.write(`esp-throughput: unknown algorithm '${name}'\n${usage}`);
    process.exit(2);
  }
}
const sizes = (list(values.bytes) ?? ['64', '512', '1400']).map(Number);
const batchSize = Number(values.batch);
if (values.clock !== 'cpu' && values.clock !== 'wall') {
  process.stderr.write(`esp-throughput: --clock must be cpu or wall, got '${values.clock}'\n${usage}`);
  process.exit(2);
}
const clock: RateClock = values.clock;
if (values.outer !== '4' && values.outer !== '6') {
  process.stderr.write(`esp-throughput: --outer must be 4 or 6, got '${values.outer}'\n${usage}`);
  process.exit(2);
}
const outerVersion = values.outer === '4' ? 4 : 6;
const encap = values.encap;
const options = {
  minMs: Number(values.ms),
  warmupMs: Math.min(150, Number(values.ms)),
  trials: 3,
  clock,
};
const wantedEngines = list(values.engine);
const engines = cryptoEngines.filter(
  (e) => e.available && (wantedEngines === undefined || wantedEngines.includes(e.name)),
);
for (const e of cryptoEngines) {
  if (!e.available) process.stdout.write(`engine ${e.name}: not available (${e.unavailableReason})\n`);
}

const SLOT = 2048;
const HEADROOM = 128;

/** `n` copies of one inner IPv4 packet of `size` bytes, each in a 2 KiB slot with 128 bytes headroom. */
function innerVector(size: number, n: number): { v: PacketVector; header: Uint8Array } {
  const packet = innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: size - 28 });
  const v = createPacketVector(new Uint8Array(SLOT * n), n);
  for (let i = 0; i < n; i++) {
    v.buffer.set(packet, i * SLOT + HEADROOM);
    setPacket(v, i, i * SLOT + HEADROOM, size, i * SLOT, (i + 1) * SLOT);
  }
  v.count = n;
  return { v, header: packet.subarray(0, 28) };
}

function allForwarded(v: PacketVector, what: string): void {
  for (let i = 0; i < v.count; i++) {
    if (v.verdict[i] !== VERDICT_FORWARD)
      throw new Error(`${what}: packet ${i} dropped (reason ${v.verdict[i]})`);
  }
}

/** Rate of `round` alone, after taking off the time of the `restore` that each round needs first. */
function netRate(restore: () => void, round: () => void, n: number, o: typeof options): number {
  const restoreRate = measureRate(restore, n, o).perSecond;
  const both = measureRate(
    () => {
      restore();
      round();
    },
    n,
    o,
  ).perSecond;
  return 1 / (1 / both - 1 / restoreRate);
}

interface Figures {
  encrypt: number;
  decrypt: number;
  /** The engine's batch call over the same ESP payloads. */
  bareSeal: number;
  bareOpen: number;
  /** The same, one engine call per packet. */
  singleSeal: number;
  singleOpen: number;
}

/** A cipher that does no cryptography: what is left of ESP encrypt and decrypt is the framing. */
function noopCipher(spec: CipherSpec): SaCipher {
  const ok = (b: PacketBatch, from: number, to: number) => b.status.fill(CryptoStatus.ok, from, to);
  return { engine: 'none', spec, seal: ok, open: ok, destroy() {} };
}

type Rounds = { readonly [K in keyof Figures]: () => number } & { readonly close: () => void };

/** Sets up one engine, algorithm and size; each returned function measures one figure once. */
function prepare(engine: string, alg: AlgorithmCase, size: number, noCrypto: boolean): Rounds {
  const pair = saPair(alg, { extra: { engine }, outerVersion, innerVersion: 4, encap });
  const configOut: SaConfig = pair.out;
  const spec = resolveSaConfig(configOut).cipherSpec;
  const out = createSaRuntime(configOut, noCrypto ? { cipher: noopCipher(spec) } : {});
  const inbound: SaRuntime = createSaRuntime(pair.in, noCrypto ? { cipher: noopCipher(spec) } : {});
  const table = new InboundSaTable();
  table.add(inbound);
  const encoder = new EspOutbound({ capacity: batchSize });
  const decoder = new EspInbound({ capacity: batchSize, table });
  const n = batchSize;
  const once = { ...options, trials: 1 };

  // Encrypt: each round puts the inner header back (the last round encrypted it) and resets the views.
  const { v, header } = innerVector(size, n);
  const restoreInner = () => {
    for (let i = 0; i < n; i++) {
      const at = i * SLOT + HEADROOM;
      v.buffer.set(header, at);
      v.offset[i] = at;
      v.length[i] = size;
    }
  };
  restoreInner();
  encoder.encapsulate(out, v, 0, n, 0);
  allForwarded(v, 'encrypt');

  // Decrypt: each round restores the sealed packets and the replay window the last round consumed.
  restoreInner();
  encoder.encapsulate(out, v, 0, n, 0);
  const sealed = v.buffer.slice();
  const sealedOffset = v.offset.slice();
  const sealedLength = v.length.slice();
  const top = out.sequence!.next() - BigInt(n) - 1n;
  const work = createPacketVector(sealed.slice(), n);
  for (let i = 0; i < n; i++)
    setPacket(work, i, sealedOffset[i]!, sealedLength[i]!, i * SLOT, (i + 1) * SLOT);
  work.count = n;
  const replay = inbound.replay!;
  const restoreSealed = () => {
    for (let i = 0; i < n; i++) {
      const a = sealedOffset[i]!;
      work.buffer.set(sealed.subarray(a, a + sealedLength[i]!), a);
      work.offset[i] = a;
      work.length[i] = sealedLength[i]!;
    }
    replay.reset(Number(top >> 32n), Number(top & 0xffffffffn));
  };
  restoreSealed();
  decoder.decapsulate(work, 0, n, 0);
  allForwarded(work, 'decrypt');

  // The bare loop: the same ESP payloads sealed and opened by the same engine, nothing else.
  const bare = bareBatch(
    sealed,
    sealedOffset,
    sealedLength,
    out.udpBytes + (outerVersion === 4 ? 20 : 40),
    n,
  );
  const cipher: SaCipher = out.cipher;
  const opened = copyBatch(bare);
  cipher.seal(opened, 0, n);
  const openWork = copyBatch(opened);
  const restoreOpen = () => {
    for (let i = 0; i < n; i++) {
      const a = opened.offset[i]!;
      openWork.buffer.set(opened.buffer.subarray(a, a + opened.length[i]!), a);
    }
  };
  const incoming: SaCipher = inbound.cipher;
  restoreOpen();
  incoming.open(openWork, 0, n);
  for (let i = 0; i < n; i++) {
    if (openWork.status[i] !== CryptoStatus.ok) throw new Error(`bare open of ${spec.encryption} failed`);
  }
  return {
    encrypt: () => netRate(restoreInner, () => encoder.encapsulate(out, v, 0, n, 0), n, once),
    decrypt: () => netRate(restoreSealed, () => decoder.decapsulate(work, 0, n, 0), n, once),
    bareSeal: () => measureRate(() => cipher.seal(bare, 0, n), n, once).perSecond,
    bareOpen: () => netRate(restoreOpen, () => incoming.open(openWork, 0, n), n, once),
    singleSeal: () =>
      measureRate(
        () => {
          for (let i = 0; i < n; i++) cipher.seal(bare, i, i + 1);
        },
        n,
        once,
      ).perSecond,
    singleOpen: () =>
      netRate(
        restoreOpen,
        () => {
          for (let i = 0; i < n; i++) incoming.open(openWork, i, i + 1);
        },
        n,
        once,
      ),
    close: () => {
      out.destroy();
      inbound.destroy();
    },
  };
}

/**
 * Best of three rounds, each measuring all four figures one after the other, so that a load that
 * drifts on a shared machine weighs on ESP and on the bare loop alike.
 */
function measure(engine: string, alg: AlgorithmCase, size: number): Figures {
  const r = prepare(engine, alg, size, false);
  const best: Figures = { encrypt: 0, decrypt: 0, bareSeal: 0, bareOpen: 0, singleSeal: 0, singleOpen: 0 };
  const order = ['bareSeal', 'encrypt', 'singleSeal', 'bareOpen', 'decrypt', 'singleOpen'] as const;
  for (let round = 0; round < 3; round++) {
    for (const figure of order) best[figure] = Math.max(best[figure], r[figure]());
  }
  r.close();
  return best;
}

/** ESP's own cost per packet: encrypt and decrypt with a cipher that does nothing. */
function framingNanoseconds(alg: AlgorithmCase, size: number): { encrypt: number; decrypt: number } {
  const r = prepare('auto', alg, size, true);
  let encrypt = 0;
  let decrypt = 0;
  for (let round = 0; round < 3; round++) {
    encrypt = Math.max(encrypt, r.encrypt());
    decrypt = Math.max(decrypt, r.decrypt());
  }
  r.close();
  return { encrypt: 1e9 / encrypt, decrypt: 1e9 / decrypt };
}

/** A crypto batch over the ESP parts of sealed outer packets (their IP and UDP headers skipped). */
function bareBatch(
  buffer: Uint8Array,
  offset: Uint32Array,
  length: Uint32Array,
  outer: number,
  n: number,
): PacketBatch {
  const batch = createPacketBatch(buffer.slice(), n);
  for (let i = 0; i < n; i++) {
    batch.offset[i] = offset[i]! + outer;
    batch.length[i] = length[i]! - outer;
  }
  batch.count = n;
  return batch;
}

const ratio = (x: number, ref: number) => `${(x / ref).toFixed(2)}`;

process.stdout.write(`${machineLine(1)}\n`);
process.stdout.write(
  `ESP tunnel mode, IPv4 in IPv${outerVersion}${encap ? ' in UDP' : ''}, batches of ${batchSize}; bytes = inner IP packet (Gbit/s counts inner bytes).\n` +
    `bare = the engine's own batch seal/open of the same ESP payloads, no ESP framing; enc/bare and dec/bare = ESP / bare ` +
    `(target >= 0.8); enc/1-by-1 and dec/1-by-1 = ESP / the same crypto called once per packet.\n` +
    `dec/enc = ESP decrypt / ESP encrypt (target >= 0.9).\n` +
    `Each figure is the best of 3 interleaved rounds; rates that need their input restored have the restore time taken off.\n` +
    `Rates are per second of ${clock === 'cpu' ? "this thread's CPU time (as openssl speed counts by default)" : 'elapsed time'}.\n\n`,
);

const rows: string[][] = [];
for (const algName of algNames) {
  const alg = algorithms[algName]!;
  const spec = resolveSaConfig(saPair(alg).out).cipherSpec;
  for (const engine of engines) {
    if (!engine.supports(spec)) continue;
    for (const size of sizes) {
      const f = measure(engine.name, alg, size);
      rows.push([
        engine.name,
        algName,
        String(size),
        formatRate(f.encrypt),
        gbits(f.encrypt, size),
        formatRate(f.bareSeal),
        ratio(f.encrypt, f.bareSeal),
        ratio(f.encrypt, f.singleSeal),
        formatRate(f.decrypt),
        gbits(f.decrypt, size),
        formatRate(f.bareOpen),
        ratio(f.decrypt, f.bareOpen),
        ratio(f.decrypt, f.singleOpen),
        ratio(f.decrypt, f.encrypt),
      ]);
      process.stdout.write(`  ${engine.name} ${algName} ${size} B done\n`);
    }
  }
}

process.stdout.write(
  `\n${formatTable(
    [
      'engine',
      'algorithm',
      'bytes',
      'ESP encrypt',
      'Gbit/s',
      'bare seal',
      'enc/bare',
      'enc/1-by-1',
      'ESP decrypt',
      'Gbit/s',
      'bare open',
      'dec/bare',
      'dec/1-by-1',
      'dec/enc',
    ],
    rows,
  )}\n`,
);

const framingRows: string[][] = [];
for (const algName of algNames) {
  for (const size of sizes) {
    const f = framingNanoseconds(algorithms[algName]!, size);
    framingRows.push([algName, String(size), f.encrypt.toFixed(0), f.decrypt.toFixed(0)]);
  }
}
process.stdout.write(
  `\nESP framing alone (a cipher that does nothing), ns per packet:\n${formatTable(
    ['algorithm', 'bytes', 'encrypt ns', 'decrypt ns'],
    framingRows,
  )}\n`,
);

const refRows: string[][] = [];
for (const cipher of ['aes-256-gcm', 'aes-128-gcm', 'chacha20-poly1305']) {
  for (const size of sizes) {
    const bytesPerSecond = opensslSpeed(cipher, size);
    refRows.push([
      cipher,
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
