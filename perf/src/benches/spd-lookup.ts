import { parseArgs } from 'node:util';
import {
  compileSpd,
  Direction,
  FlowCache,
  fillQuery,
  firstMatch,
  fromTransfer,
  hashQuery,
  type Policy,
  type PolicyConfig,
  parsePolicyConfig,
  QUERY_WORDS,
  SpdClassifier,
  type SpdSnapshot,
  toTransfer,
} from '@espresso/spd';
import { createFlowKey, type FlowKey } from '@espresso/wire';
import { formatRate, machineLine, measureRate } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- spd-lookup [options]

Outbound SPD lookups per second on one thread, with SPDs of random realistic policies (site subnets to
remote prefixes of /16../32, some port-specific, some exceptions ordered before the policies they cut
into, IPv4 and IPv6, in and out). For each size:
  cache hit    flows that are all in the flow cache
  cache miss   a stream of distinct flows several times larger than the cache, so nearly every lookup
               misses, walks the tree and writes the cache
  no cache     the lookup tree alone
The first table gives the SPD's decorrelated size, compile time (order + decorrelate), the worker-side
tree build, and the install time of a tree shipped by the control plane (checked, not built).
Lookups are measured beside two references in the same run: a bare loop that loads the same flows,
hashes each into the cache table and probes its set (the floor for a hit), and a naive first-match scan
of the ordered policies (sizes up to --naive-max).

  --sizes LIST      policy counts (default 1,100,10000,100000)
  --flows N         flows in the hit working set (default 4096)
  --stream N        distinct flows in the miss stream (default 262144)
  --cache N         flow cache slots (default 65536)
  --naive-max N     largest size given the naive scan (default 10000)
  --ms N            measuring time per trial in ms (default 300)
  --trials N        trials per figure, the best kept (default 3; more on a busy machine)
  --catch-all       end each direction with a discard-everything policy (decorrelation then fragments
                    it into the complement of everything before it: many more entries)
  --leaf N          entries per lookup-tree leaf before it is split (default: the library's, 4)
  --seed N          random seed (default 1); each size draws its SPD and flows from seed + size
`;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,100,10000,100000' },
    flows: { type: 'string', default: '4096' },
    stream: { type: 'string', default: '262144' },
    cache: { type: 'string', default: '65536' },
    'naive-max': { type: 'string', default: '10000' },
    ms: { type: 'string', default: '300' },
    trials: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    leaf: { type: 'string' },
    'catch-all': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const sizes = values.sizes.split(',').map(Number);
const hitFlows = Number(values.flows);
const streamFlows = Number(values.stream);
const cacheSlots = Number(values.cache);
const naiveMax = Number(values['naive-max']);
const minMs = Number(values.ms);
const trials = Number(values.trials);
if (
  sizes.some((n) => !Number.isInteger(n) || n < 1) ||
  !(
    hitFlows >= 1 &&
    streamFlows >= 1 &&
    cacheSlots >= 4 &&
    minMs > 0 &&
    Number.isInteger(trials) &&
    trials >= 1
  )
) {
  process.stderr.write(usage);
  process.exit(2);
}

const baseSeed = Number(values.seed) >>> 0;
const leafSize = values.leaf === undefined ? undefined : Number(values.leaf);
let seed = 1;
function random32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
function below(n: number): number {
  return random32() % n;
}
function ipv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 0xff}.${(word >>> 8) & 0xff}.${word & 0xff}`;
}
function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

interface Selector {
  readonly family: 4 | 6;
  readonly local: string;
  readonly remote: string;
  readonly protocol?: 'tcp' | 'udp';
  readonly remotePorts?: number | { from: number; to: number };
}

/** A site-to-remote selector: sites are few /24s (or /16s), remotes random /16../32 prefixes. */
function randomSelector(sites: number): Selector {
  const site = below(sites);
  const ports = below(100);
  const service =
    ports < 75
      ? {}
      : ports < 90
        ? { protocol: 'tcp' as const, remotePorts: [443, 22, 80, { from: 1024, to: 65535 }][below(4)]! }
        : { protocol: 'udp' as const, remotePorts: [53, 500, 4500, 1701][below(4)]! };
  if (below(10) === 0) {
    const length = below(2) === 0 ? 48 : 64;
    const remote = `2001:db8:${(0x8000 | below(0x8000)).toString(16)}:${length === 64 ? below(0x10000).toString(16) : '0'}::/${length}`;
    return { family: 6, local: `2001:db8:${(site & 0x7fff).toString(16)}::/48`, remote, ...service };
  }
  const local = below(5) === 0 ? `10.${site & 0xff}.0.0/16` : `10.${(site >>> 8) & 0xff}.${site & 0xff}.0/24`;
  const roll = below(10);
  const length = roll === 0 ? 16 : roll === 1 ? 20 : roll < 8 ? 24 : roll === 8 ? 28 : 32;
  const remote = `${ipv4((0x20000000 + below(0xa0000000)) & maskOf(length))}/${length}`;
  return { family: 4, local, remote, ...service };
}

/** A narrower selector inside `s`: a host or /28 of its remote, for a port; ordered before it. */
function exceptionOf(s: Selector): Selector {
  if (s.family === 6) return { ...s, protocol: 'tcp', remotePorts: 22 };
  const [address, length] = s.remote.split('/') as [string, string];
  const base = address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const inner = Math.max(Number(length), below(2) === 0 ? 32 : 28);
  const host = (base | (random32() & ~maskOf(Number(length)))) & maskOf(inner);
  return {
    family: 4,
    local: s.local,
    remote: `${ipv4(host >>> 0)}/${inner}`,
    protocol: 'tcp',
    remotePorts: 22,
  };
}

function policyConfig(s: Selector, i: number, direction: 'in' | 'out', priority: number): PolicyConfig {
  const roll = below(100);
  const action = roll < 85 ? 'protect' : roll < 95 ? 'bypass' : 'discard';
  return {
    id: `p${i}`,
    direction,
    priority,
    local: s.local,
    remote: s.remote,
    ...(s.protocol ? { protocol: s.protocol } : {}),
    ...(s.remotePorts !== undefined ? { remotePorts: s.remotePorts } : {}),
    action,
    ...(action === 'protect' ? { template: { mode: 'tunnel' as const, sa: { spi: 0x100 + i } } } : {}),
  };
}

/** n policies: out/in pairs of one selector, 5% of them exceptions ordered before what they cut into. */
function generateSpd(n: number): { policies: Policy[]; outbound: Selector[] } {
  const sites = Math.max(1, Math.ceil(Math.sqrt(n)));
  const policies: Policy[] = [];
  const outbound: Selector[] = [];
  while (policies.length < n) {
    const exception = outbound.length > 0 && below(20) === 0;
    const s = exception ? exceptionOf(outbound[below(outbound.length)]!) : randomSelector(sites);
    const priority = exception ? -1 : 0;
    policies.push(parsePolicyConfig(policyConfig(s, policies.length, 'out', priority)));
    outbound.push(s);
    if (policies.length < n)
      policies.push(parsePolicyConfig(policyConfig(s, policies.length, 'in', priority)));
  }
  return { policies, outbound };
}

/** Flows as columns of typed arrays, loaded into one FlowKey per lookup. */
interface Flows {
  readonly count: number;
  readonly version: Uint8Array;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly protocol: Uint8Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
}

function parseWords(text: string): [number, number, number, number] {
  const [address] = text.split('/') as [string];
  if (!address.includes(':'))
    return [0, 0, 0, address.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0];
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) =>
    Number.parseInt(g, 16),
  );
  return [0, 1, 2, 3].map((i) => ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0) as [
    number,
    number,
    number,
    number,
  ];
}

function pointIn(text: string): [number, number, number, number] {
  const words = parseWords(text);
  const length = Number(text.split('/')[1]);
  const wide = text.includes(':') ? length : 96 + length;
  for (let w = 0; w < 4; w++) {
    const bits = wide - 32 * w;
    if (bits >= 32) continue;
    if (words[w] === 0 && w < 3 && !text.includes(':')) continue;
    words[w] = (words[w]! | (random32() & ~maskOf(Math.max(0, bits)))) >>> 0;
  }
  return words;
}

/** Flows inside random outbound selectors (90%) or to random addresses (10%); unique by source port. */
function generateFlows(count: number, outbound: readonly Selector[]): Flows {
  const f: Flows = {
    count,
    version: new Uint8Array(count),
    src: new Uint32Array(count * 4),
    dst: new Uint32Array(count * 4),
    protocol: new Uint8Array(count),
    srcPort: new Uint16Array(count),
    dstPort: new Uint16Array(count),
  };
  for (let i = 0; i < count; i++) {
    const s = outbound[below(outbound.length)]!;
    const inside = below(10) !== 0;
    f.version[i] = s.family;
    const src = inside
      ? pointIn(s.local)
      : s.family === 4
        ? [0, 0, 0, random32()]
        : [0x20010db8, random32(), random32(), random32()];
    const dst = inside
      ? pointIn(s.remote)
      : s.family === 4
        ? [0, 0, 0, random32()]
        : [0x20010db8, random32(), random32(), random32()];
    f.src.set(src, i * 4);
    f.dst.set(dst, i * 4);
    f.protocol[i] = s.protocol === 'udp' ? 17 : s.protocol === 'tcp' || below(2) === 0 ? 6 : 17;
    // Distinct (src, source port) pairs make distinct flows even when addresses repeat.
    f.srcPort[i] = 1024 + (i % 64512);
    const rp = s.remotePorts;
    f.dstPort[i] =
      rp === undefined ? below(65536) : typeof rp === 'number' ? rp : rp.from + below(rp.to - rp.from + 1);
  }
  return f;
}

const key: FlowKey = createFlowKey();

function load(f: Flows, i: number): void {
  key.version = f.version[i] as 4 | 6;
  const s = key.src;
  const d = key.dst;
  const o = i * 4;
  s[0] = f.src[o]!;
  s[1] = f.src[o + 1]!;
  s[2] = f.src[o + 2]!;
  s[3] = f.src[o + 3]!;
  d[0] = f.dst[o]!;
  d[1] = f.dst[o + 1]!;
  d[2] = f.dst[o + 2]!;
  d[3] = f.dst[o + 3]!;
  key.protocol = f.protocol[i]!;
  key.srcPort = f.srcPort[i]!;
  key.dstPort = f.dstPort[i]!;
}

let sink = 0;
const ROUND = 1024;
const out = Direction.out;

function hitRound(c: SpdClassifier, f: Flows): () => void {
  let next = 0;
  return () => {
    for (let n = 0; n < ROUND; n++) {
      load(f, next);
      sink += c.classify(key, out, 0, 0);
      next = next + 1 === f.count ? 0 : next + 1;
    }
  };
}

function uncachedRound(c: SpdClassifier, f: Flows): () => void {
  let next = 0;
  return () => {
    for (let n = 0; n < ROUND; n++) {
      load(f, next);
      sink += c.classifyUncached(key, out, 0, 0);
      next = next + 1 === f.count ? 0 : next + 1;
    }
  };
}

/** The reference floor for a hit: load the flow, build the query, hash it, probe its (empty) set. */
function bareRound(f: Flows): () => void {
  const q = new Uint32Array(QUERY_WORDS);
  const table = new FlowCache(cacheSlots);
  let next = 0;
  return () => {
    for (let n = 0; n < ROUND; n++) {
      load(f, next);
      fillQuery(q, key, out, 0, 0);
      sink += table.get(q, hashQuery(q));
      next = next + 1 === f.count ? 0 : next + 1;
    }
  };
}

function naiveRound(snapshot: SpdSnapshot, f: Flows, perRound: number): () => void {
  let next = 0;
  return () => {
    for (let n = 0; n < perRound; n++) {
      load(f, next);
      sink += firstMatch(snapshot.policies, key, 'out', 0, 0);
      next = next + 1 === f.count ? 0 : next + 1;
    }
  };
}

const header = ['policies', 'lookup', 'rate', 'vs bare hash loop', 'vs naive scan', 'cache hits'];
const rows: string[][] = [];
const structure: string[][] = [];
const targets: string[] = [];

for (const n of sizes) {
  seed = (baseSeed + n) >>> 0 || 1;
  const { policies, outbound } = generateSpd(n);
  if (values['catch-all']) {
    for (const direction of ['out', 'in'] as const) {
      for (const any of ['0.0.0.0/0', '::/0']) {
        policies.push(
          parsePolicyConfig({
            direction,
            priority: 1000,
            local: any,
            remote: any,
            action: 'discard',
            id: `all-${direction}-${any === '::/0' ? 6 : 4}`,
          }),
        );
      }
    }
  }
  let t = performance.now();
  const snapshot = compileSpd(policies, 1, { maxEntries: 10_000_000 });
  const compileMs = performance.now() - t;
  t = performance.now();
  const classifier = new SpdClassifier(snapshot, { cacheSlots, ...(leafSize ? { leafSize } : {}) });
  const buildMs = performance.now() - t;
  const stats = classifier.treeStats;
  const shipped = toTransfer(snapshot, { tree: leafSize ? { leafSize } : true }).message;
  t = performance.now();
  new SpdClassifier(fromTransfer(shipped), { cacheSlots });
  const shippedMs = performance.now() - t;
  structure.push([
    String(n),
    String(snapshot.entryCount),
    compileMs.toFixed(0),
    buildMs.toFixed(0),
    shippedMs.toFixed(1),
    String(stats.nodes),
    String(stats.maxDepth),
    String(stats.maxLeaf),
    (stats.leafItems / Math.max(1, snapshot.entryCount)).toFixed(2),
  ]);

  const hot = generateFlows(hitFlows, outbound);
  const stream = generateFlows(streamFlows, outbound);

  const bare = measureRate(bareRound(hot), ROUND, { minMs, trials });
  const naivePerRound = n <= 100 ? ROUND : 16;
  const naive =
    n <= naiveMax
      ? measureRate(naiveRound(snapshot, hot, naivePerRound), naivePerRound, { minMs, trials })
      : null;

  for (let i = 0; i < hot.count; i++) {
    load(hot, i);
    classifier.classify(key, out, 0, 0);
  }
  classifier.hits = 0;
  classifier.misses = 0;
  const hit = measureRate(hitRound(classifier, hot), ROUND, { minMs, trials });
  const hitShare = classifier.hits / (classifier.hits + classifier.misses);

  classifier.hits = 0;
  classifier.misses = 0;
  const miss = measureRate(hitRound(classifier, stream), ROUND, { minMs, trials });
  const missHitShare = classifier.hits / (classifier.hits + classifier.misses);

  const tree = measureRate(uncachedRound(classifier, stream), ROUND, { minMs, trials });

  const vsBare = (r: number) => `${(r / bare.perSecond).toFixed(2)}x`;
  const vsNaive = (r: number) => (naive ? `${(r / naive.perSecond).toFixed(1)}x` : 'n/a');
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  rows.push([
    String(n),
    'cache hit',
    formatRate(hit.perSecond),
    vsBare(hit.perSecond),
    vsNaive(hit.perSecond),
    pct(hitShare),
  ]);
  rows.push([
    String(n),
    `cache miss (${streamFlows} flows)`,
    formatRate(miss.perSecond),
    vsBare(miss.perSecond),
    vsNaive(miss.perSecond),
    pct(missHitShare),
  ]);
  rows.push([
    String(n),
    'no cache (tree only)',
    formatRate(tree.perSecond),
    vsBare(tree.perSecond),
    vsNaive(tree.perSecond),
    '-',
  ]);
  rows.push([
    String(n),
    'reference: bare hash loop',
    formatRate(bare.perSecond),
    '1.00x',
    vsNaive(bare.perSecond),
    '-',
  ]);
  rows.push([
    String(n),
    'reference: naive scan',
    naive ? formatRate(naive.perSecond) : 'not run',
    '',
    '',
    '-',
  ]);
  if (n === 10000) {
    targets.push(
      `10 000 policies: cache hits ${formatRate(hit.perSecond)} (target >= 5 M/s: ${hit.perSecond >= 5e6 ? 'met' : 'NOT met'}), ` +
        `cache misses ${formatRate(miss.perSecond)} (target >= 1 M/s: ${miss.perSecond >= 1e6 ? 'met' : 'NOT met'})`,
    );
  }
}

process.stdout.write(
  `SPD lookup, outbound, one thread; flow cache ${cacheSlots} slots (4-way); hit set ${hitFlows} flows` +
    `${values['catch-all'] ? '; each direction ends with a catch-all discard' : ''}\n\n` +
    `${formatTable(['policies', 'entries', 'compile ms', 'tree build ms', 'install shipped tree ms', 'tree nodes', 'max depth', 'max leaf', 'leaf copies/entry'], structure)}\n\n` +
    `${formatTable(header, rows)}\n\n${targets.join('\n')}${targets.length ? '\n' : ''}${machineLine(1)}\n`,
);
if (sink === 0.5) process.stdout.write('\n');
