import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFlowKey, extractFlowKey, WIRE_OK } from '@espresso/wire';
import fc from 'fast-check';
import { NOT_PLAIN, SpdClassifier } from './classifier.ts';
import { fillQueryFromPlainIpv4 } from './plain-ipv4.ts';
import { Direction } from './policy.ts';
import { fillQuery, QUERY_WORDS } from './query.ts';
import { compileSpd } from './snapshot.ts';
import { parsePolicyConfig } from './validate.ts';

/** An IPv4 packet with a 20-byte header and 8 bytes after it, at offset `at` of a buffer. */
function ipv4Packet(at: number, fields: readonly number[]): Uint8Array {
  const [src, dst, protocol, srcPort, dstPort, tos, payload] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const total = 28 + payload;
  const buf = new Uint8Array(at + total + 4);
  const view = new DataView(buf.buffer);
  buf[at] = 0x45;
  buf[at + 1] = tos;
  view.setUint16(at + 2, total);
  buf[at + 8] = 64;
  buf[at + 9] = protocol;
  view.setUint32(at + 12, src);
  view.setUint32(at + 16, dst);
  view.setUint16(at + 20, srcPort);
  view.setUint16(at + 22, dstPort);
  return buf;
}

const fieldsArb = fc.tuple(
  fc.constantFrom(0x0a010005, 0xc0000207, 0xffffffff, 0),
  fc.constantFrom(0x0a020001, 0xc6336402, 0x80000000),
  fc.constantFrom(6, 17, 132, 136, 33, 1, 50, 0),
  fc.constantFrom(0, 443, 0xffff, 40000),
  fc.constantFrom(0, 53, 0xffff, 4500),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 40 }),
);

/** Header edits that may or may not leave the packet plain: options, fragments, lengths, version. */
const editArb = fc.oneof(
  fc.constant({ at: -1, value: 0 }),
  fc.record({ at: fc.constantFrom(0, 2, 3, 6, 7), value: fc.integer({ min: 0, max: 255 }) }),
);

test('plain IPv4 fills the query fillQuery makes of the extracted key; anything else is left to the general path', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5 }),
      fieldsArb,
      editArb,
      fc.integer({ min: -8, max: 4 }),
      fc.constantFrom(Direction.in, Direction.out),
      (at, fields, edit, lengthDelta, direction) => {
        const buf = ipv4Packet(at, fields);
        if (edit.at >= 0) buf[at + edit.at] = edit.value;
        const length = 28 + fields[6] + lengthDelta;
        const fast = new Uint32Array(QUERY_WORDS);
        const plain = fillQueryFromPlainIpv4(fast, buf, at, length, direction);
        const key = createFlowKey();
        const parsed = extractFlowKey(buf, at, length, key);
        const portProtocol = [6, 17, 132, 136, 33].includes(buf[at + 9]!);
        const expectPlain =
          parsed === WIRE_OK &&
          buf[at] === 0x45 &&
          portProtocol &&
          ((buf[at + 6]! & 0x1f) | buf[at + 7]!) === 0 &&
          ((buf[at + 2]! << 8) | buf[at + 3]!) >= 24;
        assert.equal(plain, expectPlain);
        if (!plain) return;
        const general = new Uint32Array(QUERY_WORDS);
        fillQuery(general, key, direction, 0, 0);
        assert.deepEqual(Array.from(fast), Array.from(general));
      },
    ),
    { numRuns: 2000 },
  );
});

test('classifyPlainIpv4 gives the entry classify gives, through the same flow cache; NOT_PLAIN otherwise', () => {
  const snapshot = compileSpd(
    [
      parsePolicyConfig({
        id: 'dns',
        direction: 'out',
        local: '10.1.0.0/16',
        remote: '10.2.0.0/16',
        protocol: 'udp',
        remotePorts: 53,
        action: 'bypass',
      }),
      parsePolicyConfig({
        id: 'site',
        direction: 'out',
        local: '10.1.0.0/16',
        remote: '10.2.0.0/16',
        action: 'protect',
        template: { mode: 'tunnel', sa: { spi: 0x1000 } },
      }),
    ],
    1,
  );
  const fast = new SpdClassifier(snapshot, { cacheSlots: 64 });
  const general = new SpdClassifier(snapshot, { cacheSlots: 64 });
  const key = createFlowKey();
  for (const [dstPort, protocol] of [
    [53, 17],
    [443, 17],
    [53, 6],
    [53, 17],
  ] as const) {
    const buf = ipv4Packet(2, [0x0a010005, 0x0a020001, protocol, 1000, dstPort, 0, 0]);
    assert.equal(extractFlowKey(buf, 2, 28, key), WIRE_OK);
    const entry = fast.classifyPlainIpv4(buf, 2, 28, Direction.out);
    assert.equal(entry, general.classify(key, Direction.out, 0, 0));
    assert.equal(fast.policy(entry)?.id, dstPort === 53 && protocol === 17 ? 'dns' : 'site');
  }
  assert.deepEqual([fast.hits, fast.misses], [general.hits, general.misses]);
  assert.deepEqual([fast.hits, fast.misses], [1, 3]);
  const icmp = ipv4Packet(0, [0x0a010005, 0x0a020001, 1, 0x0800, 0, 0, 0]);
  assert.equal(fast.classifyPlainIpv4(icmp, 0, 28, Direction.out), NOT_PLAIN);
  const truncated = ipv4Packet(0, [0x0a010005, 0x0a020001, 17, 1, 2, 0, 0]);
  assert.equal(fast.classifyPlainIpv4(truncated, 0, 27, Direction.out), NOT_PLAIN);
});
