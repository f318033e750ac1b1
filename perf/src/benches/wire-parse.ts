import { parseArgs } from 'node:util';
import {
  createFlowKey,
  createIpv4Header,
  createIpv6ExtensionChain,
  createIpv6Header,
  extractFlowKey,
  type FlowKey,
  IpProtocol,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseIpv4Header,
  parseIpv6Header,
  WIRE_OK,
  walkIpv6Extensions,
  writeIpv4Header,
  writeIpv6Header,
  writeU16,
  writeUdpChecksum,
  writeUdpHeader,
} from '@espresso/wire';
import { formatRate, machineLine, measureRate } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- wire-parse [options]

Parse + 5-tuple extraction rate of @espresso/wire on one thread, for IPv4 and IPv6 TCP/UDP packets of
64 and 1400 bytes, beside a bare loop measured in the same run that reads only the bytes a 5-tuple needs
at fixed offsets (no validation, no extension headers) from the same packets.

  --pool N   packets per pool, cycled through (default 1024)
  --ms N     measuring time per trial in ms (default 150)
  --trials N trials per loop, taken in turns with the other loops of a pool; best kept (default 5)
`;

const { values } = parseArgs({
  options: {
    pool: { type: 'string', default: '1024' },
    ms: { type: 'string', default: '150' },
    trials: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const poolSize = Number(values.pool);
const minMs = Number(values.ms);
const trials = Number(values.trials);
if (!Number.isInteger(poolSize) || poolSize < 1 || !(minMs > 0) || !Number.isInteger(trials) || trials < 1) {
  process.stderr.write(usage);
  process.exit(2);
}

/** Packets sit in fixed-size slots of one buffer, as in the datapath's packet pool. */
const slotBytes = 2048;

interface Pool {
  readonly name: string;
  readonly version: 4 | 6;
  readonly bytes: number;
  readonly buffer: Uint8Array;
  readonly offsets: Int32Array;
}

let seed = 0x2545f491;
function random32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

function buildPool(version: 4 | 6, protocol: number, bytes: number): Pool {
  const buffer = new Uint8Array(poolSize * slotBytes);
  const offsets = new Int32Array(poolSize);
  const v4 = {
    dscp: 0,
    ecn: 0,
    totalLength: bytes,
    identification: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    src: 0,
    dst: 0,
  };
  const v6 = {
    dscp: 0,
    ecn: 0,
    flowLabel: 0,
    payloadLength: bytes - 40,
    nextHeader: protocol,
    hopLimit: 64,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
  };
  for (let i = 0; i < poolSize; i++) {
    // Vary the offset inside the slot (headroom) so no access pattern is perfectly aligned.
    const at = i * slotBytes + 64 + (i & 7);
    offsets[i] = at;
    for (let b = at; b < at + bytes; b++) buffer[b] = random32() & 0xff;
    let header: number;
    if (version === 4) {
      v4.identification = i & 0xffff;
      v4.dscp = random32() & 0x3f;
      v4.src = random32();
      v4.dst = random32();
      header = writeIpv4Header(buffer, at, v4);
    } else {
      v6.dscp = random32() & 0x3f;
      v6.flowLabel = random32() & 0xfffff;
      for (let w = 0; w < 4; w++) {
        v6.src[w] = random32();
        v6.dst[w] = random32();
      }
      header = writeIpv6Header(buffer, at, v6);
    }
    const upper = at + header;
    const upperLength = bytes - header;
    if (protocol === IpProtocol.udp) {
      writeUdpHeader(buffer, upper, random32() & 0xffff, random32() & 0xffff, upperLength);
      const pseudo =
        version === 4
          ? ipv4PseudoHeaderSum(buffer, at, protocol, upperLength)
          : ipv6PseudoHeaderSum(buffer, at + 8, at + 24, protocol, upperLength);
      writeUdpChecksum(buffer, upper, upperLength, pseudo);
    } else {
      writeU16(buffer, upper, random32() & 0xffff);
      writeU16(buffer, upper + 2, random32() & 0xffff);
      buffer[upper + 12] = 0x50;
    }
  }
  const protocolName = protocol === IpProtocol.udp ? 'UDP' : 'TCP';
  return { name: `IPv${version} ${protocolName}`, version, bytes, buffer, offsets };
}

const key: FlowKey = createFlowKey();
const ip4 = createIpv4Header();
const ip6 = createIpv6Header();
const chain = createIpv6ExtensionChain();
let sink = 0;

/** extractFlowKey alone: it validates lengths and walks the IPv6 chain itself. */
function extractRound(pool: Pool): void {
  const { buffer, offsets, bytes } = pool;
  for (let i = 0; i < offsets.length; i++) {
    if (extractFlowKey(buffer, offsets[i]!, bytes, key) !== WIRE_OK) throw new Error('rejected');
    sink += key.srcPort;
  }
}

/** The full receive check: header parse (IPv4 checksum verified, IPv6 chain walked), then the key. */
function parseAndExtractRound(pool: Pool): void {
  const { buffer, offsets, bytes } = pool;
  if (pool.version === 4) {
    for (let i = 0; i < offsets.length; i++) {
      const at = offsets[i]!;
      if (parseIpv4Header(buffer, at, bytes, ip4) !== WIRE_OK) throw new Error('rejected');
      if (extractFlowKey(buffer, at, bytes, key) !== WIRE_OK) throw new Error('rejected');
      sink += key.srcPort + ip4.ttl;
    }
  } else {
    for (let i = 0; i < offsets.length; i++) {
      const at = offsets[i]!;
      if (parseIpv6Header(buffer, at, bytes, ip6) !== WIRE_OK) throw new Error('rejected');
      if (walkIpv6Extensions(buffer, at, ip6.payloadOffset + ip6.payloadLength, chain) !== WIRE_OK) {
        throw new Error('rejected');
      }
      if (extractFlowKey(buffer, at, bytes, key) !== WIRE_OK) throw new Error('rejected');
      sink += key.srcPort + ip6.hopLimit;
    }
  }
}

/**
 * The reference: the same stores into the same key, reading only what a 5-tuple needs at offsets fixed
 * for this pool's shape (IHL 5, no extension headers), with no checks at all.
 */
function bareRound(pool: Pool): void {
  const { buffer: b, offsets } = pool;
  const src = key.src;
  const dst = key.dst;
  if (pool.version === 4) {
    for (let i = 0; i < offsets.length; i++) {
      const at = offsets[i]!;
      key.version = 4;
      key.dscp = b[at + 1]! >>> 2;
      key.protocol = b[at + 9]!;
      src[3] = (b[at + 12]! << 24) | (b[at + 13]! << 16) | (b[at + 14]! << 8) | b[at + 15]!;
      dst[3] = (b[at + 16]! << 24) | (b[at + 17]! << 16) | (b[at + 18]! << 8) | b[at + 19]!;
      key.srcPort = (b[at + 20]! << 8) | b[at + 21]!;
      key.dstPort = (b[at + 22]! << 8) | b[at + 23]!;
      sink += key.srcPort;
    }
  } else {
    for (let i = 0; i < offsets.length; i++) {
      const at = offsets[i]!;
      key.version = 6;
      key.dscp = (((b[at]! << 8) | b[at + 1]!) >>> 6) & 0x3f;
      key.protocol = b[at + 6]!;
      for (let w = 0; w < 4; w++) {
        const s = at + 8 + w * 4;
        const d = at + 24 + w * 4;
        src[w] = (b[s]! << 24) | (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!;
        dst[w] = (b[d]! << 24) | (b[d + 1]! << 16) | (b[d + 2]! << 8) | b[d + 3]!;
      }
      key.srcPort = (b[at + 40]! << 8) | b[at + 41]!;
      key.dstPort = (b[at + 42]! << 8) | b[at + 43]!;
      sink += key.srcPort;
    }
  }
}

const pools: Pool[] = [];
for (const version of [4, 6] as const) {
  for (const protocol of [IpProtocol.tcp, IpProtocol.udp]) {
    for (const bytes of [64, 1400]) pools.push(buildPool(version, protocol, bytes));
  }
}

/**
 * The three loops of a pool are measured in turns, trial after trial, keeping each one's best: a burst
 * of load from other processes then hits all three alike and the ratios hold.
 */
function measureInTurns(rounds: readonly (() => void)[]): number[] {
  const best = rounds.map(() => 0);
  for (let trial = 0; trial < trials; trial++) {
    rounds.forEach((round, i) => {
      const rate = measureRate(round, poolSize, { minMs, warmupMs: trial === 0 ? 150 : 0, trials: 1 });
      best[i] = Math.max(best[i]!, rate.perSecond);
    });
  }
  return best;
}

const ns = (perSecond: number) => `${(1e9 / perSecond).toFixed(1)} ns`;
const rows: string[][] = [];
for (const pool of pools) {
  const [bare = 0, extract = 0, full = 0] = measureInTurns([
    () => bareRound(pool),
    () => extractRound(pool),
    () => parseAndExtractRound(pool),
  ]);
  rows.push([
    pool.name,
    String(pool.bytes),
    `${formatRate(extract)} (${ns(extract)})`,
    `${formatRate(full)} (${ns(full)})`,
    `${formatRate(bare)} (${ns(bare)})`,
    (extract / bare).toFixed(2),
    (full / bare).toFixed(2),
  ]);
}

process.stdout.write(
  `wire-parse: packets/s on one thread, pools of ${poolSize} packets in ${slotBytes}-byte slots, cycled\n\n`,
);
process.stdout.write(
  `${formatTable(
    [
      'packets',
      'bytes',
      'extractFlowKey',
      'parse+extract',
      'bare fixed-offset reads',
      'extract/bare',
      'parse+extract/bare',
    ],
    rows,
  )}\n\n`,
);
process.stdout.write(
  'extractFlowKey: validates version, header and total lengths, walks IPv6 extension headers, reads ports.\n' +
    'parse+extract: parseIpv4Header (header checksum verified) or parseIpv6Header + walkIpv6Extensions, then extractFlowKey.\n' +
    'bare: the same key stores from fixed offsets, no checks (the ceiling for this loop shape).\n',
);
process.stdout.write(`${machineLine(1)}\n`);
if (sink === 0.5) process.stdout.write('\n');
