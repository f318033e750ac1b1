import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { descriptorLength, descriptorOffset } from '@espresso/ring';
import {
  checksumVerifies,
  createIpv4Header,
  createIpv6Header,
  IpProtocol,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseIpv4Header,
  parseIpv6Header,
  WIRE_OK,
} from '@espresso/wire';
import { TrafficOptionError } from './errors.ts';
import { IMIX, meanSize, parseSizeMix } from './size-mix.ts';
import { stampIntact, stampSequence, stampTemplate } from './stamp.ts';
import { testTraffic } from './test-support.ts';

test('stamped packets keep valid IP and UDP checksums (IPv4 and IPv6, every IMIX size)', () => {
  const { generator, pool, at, templates } = testTraffic({ flows: 6, version: 'mixed', bytes: 'imix' });
  const descs = new Uint32Array(2 * 120);
  const n = generator.fill(pool, 0, descs, 120, 0);
  assert.equal(n, 120);
  const h4 = createIpv4Header();
  const h6 = createIpv6Header();
  const seenSizes = new Set<number>();
  for (let i = 0; i < n; i++) {
    const o = at(descs, i);
    const length = descriptorLength(descs, i);
    assert.equal(descriptorOffset(descs, i), pool.headroom);
    seenSizes.add(length);
    const buf = pool.bytes;
    if (buf[o]! >>> 4 === 4) {
      assert.equal(parseIpv4Header(buf, o, length, h4), WIRE_OK);
      assert.equal(h4.totalLength, length);
      assert.ok(
        checksumVerifies(buf, o + 20, length - 20, ipv4PseudoHeaderSum(buf, o, IpProtocol.udp, length - 20)),
      );
      assert.ok(stampIntact(buf, o + 28));
    } else {
      assert.equal(parseIpv6Header(buf, o, length, h6), WIRE_OK);
      assert.equal(h6.payloadLength + 40, length);
      const upper = length - 40;
      assert.ok(
        checksumVerifies(buf, o + 40, upper, ipv6PseudoHeaderSum(buf, o + 8, o + 24, IpProtocol.udp, upper)),
      );
      assert.ok(stampIntact(buf, o + 48));
    }
  }
  assert.deepEqual(
    [...seenSizes].sort((a, b) => a - b),
    [64, 576, 1500],
  );
  assert.equal(templates.count, 18);
});

test('each flow numbers its packets from 0 without gaps; stamps name the template', () => {
  const { generator, pool, at, templates } = testTraffic({ flows: 3 });
  const descs = new Uint32Array(2 * 30);
  const n = generator.fill(pool, 0, descs, 30, 0);
  const next = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const o = at(descs, i);
    const template = stampTemplate(pool.bytes, o + 28);
    const flow = templates.flowOf[template]!;
    assert.equal(stampSequence(pool.bytes, o + 28), next[flow]);
    next[flow]!++;
  }
  assert.deepEqual(next, [10, 10, 10]);
  assert.deepEqual([...generator.sent], [10, 10, 10]);
});

test('IMIX proportions are exact over a schedule period, and its mean is 354.3 bytes', () => {
  const { generator, pool } = testTraffic({ flows: 5, bytes: 'imix', slots: 4096 });
  const descs = new Uint32Array(2 * 4096);
  const period = 5 * 12 * Math.ceil(4096 / 60);
  const counts = new Map<number, number>();
  let left = period;
  while (left > 0) {
    const n = generator.fill(pool, 0, descs, Math.min(left, 1024), 0);
    for (let i = 0; i < n; i++)
      counts.set(descriptorLength(descs, i), (counts.get(descriptorLength(descs, i)) ?? 0) + 1);
    pool.freeDescriptors(descs, n);
    left -= n;
  }
  assert.equal(counts.get(64), (period * 7) / 12);
  assert.equal(counts.get(576), (period * 4) / 12);
  assert.equal(counts.get(1500), period / 12);
  assert.equal(meanSize(IMIX).toFixed(1), '354.3');
});

test('generation stops at the pool and returns only what it filled; flows follow the steering', () => {
  const { generator, pool } = testTraffic({ flows: 4, workers: 2, slots: 64 });
  const descs = new Uint32Array(2 * 128);
  assert.equal(generator.fill(pool, 0, descs, 128, 0), 64);
  assert.equal(generator.fill(pool, 1, descs, 8, 0), 0);
  assert.deepEqual(generator.flowsPerWorker, [2, 2]);
  // Flows 0 and 2 are worker 0's: only they have sent anything.
  assert.deepEqual([...generator.sent], [32, 0, 32, 0]);
});

test('bad sizes and flow counts are refused naming the option', () => {
  assert.throws(
    () => parseSizeMix('12', 44, 9000),
    (e: unknown) => e instanceof TrafficOptionError && e.field === '--bytes',
  );
  assert.throws(() => parseSizeMix('64:0', 44, 9000), /--bytes: weights/);
  assert.throws(() => testTraffic({ version: 6, bytes: '44' }), /--bytes: IPv6 packets of 44 bytes/);
  assert.throws(() => testTraffic({ flows: 0 }), /--flows/);
  assert.deepEqual(parseSizeMix('64:7,576:4,1500:1', 44, 9000).weights, [7, 4, 1]);
});

test('scapy parses generated packets and agrees with their checksums', { skip: !hasScapy() }, () => {
  const { generator, pool, bytesOf } = testTraffic({
    flows: 4,
    version: 'mixed',
    bytes: 'imix',
    dscp: 'be,ef',
  });
  const descs = new Uint32Array(2 * 24);
  const n = generator.fill(pool, 0, descs, 24, 0);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(Buffer.from(bytesOf(descs, i)).toString('hex'));
  const script = `
import sys
from scapy.all import IP, IPv6, UDP, raw
for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    p = IP(data) if data[0] >> 4 == 4 else IPv6(data)
    ip_ok = True
    if p.version == 4:
        c = p.chksum; q = p.copy(); del q.chksum; ip_ok = IP(raw(q)).chksum == c
        tc = p.tos
    else:
        tc = p.tc
    u = p[UDP]; c = u.chksum; q = p.copy(); del q[UDP].chksum
    rebuilt = (IP if p.version == 4 else IPv6)(raw(q))
    print(p.version, len(data), int(ip_ok), int(rebuilt[UDP].chksum == c), tc >> 2, u.sport, u.dport)
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script], {
    input: `${lines.join('\n')}\n`,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number));
  assert.equal(rows.length, n);
  for (const [i, row] of rows.entries()) {
    const [version, length, ipOk, udpOk, dscp, sport, dport] = row;
    assert.equal(ipOk, 1, `packet ${i}: IP checksum`);
    assert.equal(udpOk, 1, `packet ${i}: UDP checksum`);
    assert.equal(length, descriptorLength(descs, i));
    assert.ok(version === 4 || version === 6);
    assert.ok(dscp === 0 || dscp === 46);
    assert.ok(sport! >= 10000 && dport === 5001);
  }
  assert.ok(rows.some((r) => r[4] === 46) && rows.some((r) => r[0] === 6));
});

function hasScapy(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import scapy.all'], { encoding: 'utf8' }).status === 0;
}
