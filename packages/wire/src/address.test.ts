import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  formatIpAddress,
  formatIpv4Address,
  formatIpv6Address,
  formatPrefix,
  ipAddressToBytes,
  maskPrefix,
  parseIpAddress,
  parseIpv4Address,
  parseIpv6Address,
  parsePrefix,
  prefixContains,
  prefixHasHostBits,
} from './address.ts';
import { ipv6AddressArb } from './testing/arbitraries.ts';

test('IPv4 text: dotted quads only, no leading zeros, no out-of-range octets', () => {
  assert.equal(parseIpv4Address('192.0.2.1'), 0xc0000201);
  assert.equal(parseIpv4Address('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4Address('0.0.0.0'), 0);
  for (const bad of [
    '192.0.2',
    '192.0.2.1.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'a.b.c.d',
    '',
  ]) {
    assert.equal(parseIpv4Address(bad), null, bad);
  }
  assert.equal(formatIpv4Address(0xc0000201), '192.0.2.1');
});

test('IPv6 text: every RFC 4291 §2.2 form parses; the rest does not', () => {
  const words = (text: string) => Array.from(parseIpv6Address(text) ?? []);
  assert.deepEqual(words('2001:db8::1'), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(words('::'), [0, 0, 0, 0]);
  assert.deepEqual(words('::1'), [0, 0, 0, 1]);
  assert.deepEqual(words('1::'), [0x10000, 0, 0, 0]);
  assert.deepEqual(words('2001:DB8:0:0:8:800:200C:417A'), [0x20010db8, 0, 0x80800, 0x200c417a]);
  assert.deepEqual(words('::ffff:192.0.2.1'), [0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(words('::13.1.68.3'), [0, 0, 0, 0x0d014403]);
  assert.deepEqual(words('1:2:3:4:5:6:7::'), [0x10002, 0x30004, 0x50006, 0x70000]);
  assert.deepEqual(words('64:ff9b::198.51.100.7'), [0x0064ff9b, 0, 0, 0xc6336407]);
  for (const bad of [
    '',
    ':',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2::3',
    '12345::',
    'g::',
    '::1%eth0',
    '[::1]',
    '1:2:3:4:5:6:7:8::',
    '::1.2.3',
    '1.2.3.4',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    ':1::',
    '1::2:',
  ]) {
    assert.equal(parseIpv6Address(bad), null, bad);
  }
});

test('IPv6 formatting matches Python ipaddress (RFC 5952) and parses back, for random and sparse addresses', () => {
  // Sparse addresses exercise the zero-run rules; Python formats IPv4-mapped ones differently (its 3.11
  // predates mixed notation), so those are checked separately.
  const sparse = fc
    .array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xabc), { minLength: 8, maxLength: 8 })
    .map((g) =>
      Uint32Array.of(
        g[0]! * 65536 + g[1]!,
        g[2]! * 65536 + g[3]!,
        g[4]! * 65536 + g[5]!,
        g[6]! * 65536 + g[7]!,
      ),
    );
  const samples = fc
    .sample(fc.oneof(ipv6AddressArb, sparse), 400)
    .filter((w) => !(w[0] === 0 && w[1] === 0 && w[2] === 0xffff));
  const ours = samples.map((w) => formatIpv6Address(w));
  const hex = samples.map((w) => Array.from(w, (x) => x.toString(16).padStart(8, '0')).join('')).join('\n');
  const python = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import ipaddress,sys\nfor l in sys.stdin.read().split():\n print(ipaddress.IPv6Address(bytes.fromhex(l)))',
    ],
    { input: hex, encoding: 'utf8' },
  );
  assert.equal(python.status, 0, python.stderr);
  assert.deepEqual(ours, python.stdout.trim().split('\n'));
  samples.forEach((w, i) => {
    assert.deepEqual(parseIpv6Address(ours[i]!), w);
  });
});

test('IPv4-mapped addresses are formatted with a dotted-quad tail (RFC 5952 §5)', () => {
  assert.equal(formatIpv6Address(Uint32Array.of(0, 0, 0xffff, 0xc0000201)), '::ffff:192.0.2.1');
  assert.equal(formatIpv6Address(Uint32Array.of(0, 0, 0, 1)), '::1');
  assert.equal(formatIpv6Address(Uint32Array.of(0x20010db8, 0, 1, 1)), '2001:db8::1:0:1');
  assert.equal(formatIpv6Address(Uint32Array.of(0x20010db8, 0x1, 0x10001, 0x10001)), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIpv6Address(Uint32Array.of(0x20010000, 0, 0x10000, 1)), '2001::1:0:0:1');
});

test('prefixes: parse, format, host bits, masking and containment', () => {
  const p = parsePrefix('192.0.2.77/24');
  assert.ok(p !== null);
  assert.equal(p.version, 4);
  assert.equal(p.length, 24);
  assert.ok(prefixHasHostBits(p));
  maskPrefix(p);
  assert.equal(formatPrefix(p), '192.0.2.0/24');
  assert.ok(!prefixHasHostBits(p));
  const address = parseIpAddress('192.0.2.200');
  assert.ok(address !== null);
  assert.ok(prefixContains(p, 4, address.words));
  assert.ok(!prefixContains(p, 4, parseIpAddress('192.0.3.1')!.words));
  assert.ok(!prefixContains(p, 6, address.words));

  const v6 = parsePrefix('2001:db8:abcd::/35');
  assert.ok(v6 !== null);
  assert.ok(prefixHasHostBits(v6));
  maskPrefix(v6);
  assert.equal(formatPrefix(v6), '2001:db8:a000::/35');
  assert.ok(prefixContains(v6, 6, parseIpAddress('2001:db8:bfff::1')!.words));
  assert.ok(!prefixContains(v6, 6, parseIpAddress('2001:db8:9fff::1')!.words));
  assert.ok(!prefixContains(v6, 6, parseIpAddress('2001:db8:c000::1')!.words));

  assert.deepEqual(parsePrefix('10.1.2.3'), {
    version: 4,
    words: Uint32Array.of(0, 0, 0, 0x0a010203),
    length: 32,
  });
  assert.equal(parsePrefix('::/0')?.length, 0);
  assert.ok(prefixContains(parsePrefix('0.0.0.0/0')!, 4, Uint32Array.of(0, 0, 0, 0xffffffff)));
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0.0/a',
    'x/8',
    '10.0.0.0/8/8',
  ]) {
    assert.equal(parsePrefix(bad), null, bad);
  }
});

test('prefix containment agrees with Python ipaddress for random prefixes and addresses', () => {
  const cases = fc.sample(
    fc.tuple(
      ipv6AddressArb,
      fc.integer({ min: 0, max: 128 }),
      ipv6AddressArb,
      fc.integer({ min: 0, max: 128 }),
    ),
    300,
  );
  const lines: string[] = [];
  const ours: string[] = [];
  for (const [net, length, addr, shared] of cases) {
    // Make the address share `shared` leading bits with the network so both answers occur.
    const a = Uint32Array.from(addr);
    for (let bit = 0; bit < shared; bit++) {
      const w = bit >>> 5;
      const mask = 1 << (31 - (bit & 31));
      a[w] = ((a[w]! & ~mask) | (net[w]! & mask)) >>> 0;
    }
    const prefix = { version: 6 as const, words: Uint32Array.from(net), length };
    maskPrefix(prefix);
    lines.push(`${formatPrefix(prefix)} ${formatIpAddress({ version: 6, words: a })}`);
    ours.push(String(prefixContains(prefix, 6, a)));
  }
  const python = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import ipaddress,sys\nfor l in sys.stdin.read().strip().split("\\n"):\n n,a=l.split()\n print(ipaddress.ip_address(a) in ipaddress.ip_network(n))',
    ],
    { input: lines.join('\n'), encoding: 'utf8' },
  );
  assert.equal(python.status, 0, python.stderr);
  assert.deepEqual(
    ours,
    python.stdout
      .trim()
      .split('\n')
      .map((s) => s.toLowerCase()),
  );
  assert.ok(ours.includes('true') && ours.includes('false'));
});

test('addresses as header bytes', () => {
  assert.deepEqual(ipAddressToBytes(parseIpAddress('192.0.2.1')!), Uint8Array.of(192, 0, 2, 1));
  assert.deepEqual(
    ipAddressToBytes(parseIpAddress('2001:db8::1')!),
    Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
  );
  assert.equal(formatIpAddress(parseIpAddress('2001:0db8:0000::0001')!), '2001:db8::1');
  assert.equal(parseIpAddress('nonsense'), null);
});
