import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { VERDICT_FORWARD } from './packet-vector.ts';
import { dropCount } from './sa-counters.ts';
import { hex, packetAt } from './testing/fixtures.ts';
import { espLink, innerFor } from './testing/harness.ts';

/**
 * The outer headers inbound ESP meets most (IPv4 without options; IPv6 straight to ESP or UDP) take a
 * short path; everything else takes the general parsers. Both must reach the same verdicts: these cases
 * sit on either side of that line. Checksums are worked out here with a sum of our own.
 */

function onesComplement(bytes: Uint8Array, from: number, to: number, initial = 0): number {
  let sum = initial;
  for (let k = from; k < to; k += 2) sum += (bytes[k]! << 8) | (k + 1 < to ? bytes[k + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

function fixIpv4Checksum(p: Uint8Array): void {
  const headerLength = (p[0]! & 0x0f) * 4;
  p[10] = 0;
  p[11] = 0;
  const check = ~onesComplement(p, 0, headerLength) & 0xffff;
  p[10] = check >>> 8;
  p[11] = check & 0xff;
}

/** The UDP checksum of the datagram at `udp` in an IPv4 (`v4`) or IPv6 packet, its field zeroed first. */
function udpChecksum(p: Uint8Array, udp: number, v4: boolean): number {
  p[udp + 6] = 0;
  p[udp + 7] = 0;
  const length = (p[udp + 4]! << 8) | p[udp + 5]!;
  const pseudo = v4 ? onesComplement(p, 12, 20, 17 + length) : onesComplement(p, 8, 40, 17 + length);
  const check = ~onesComplement(p, udp, udp + length, pseudo) & 0xffff;
  return check === 0 ? 0xffff : check;
}

function setU16(p: Uint8Array, at: number, value: number): void {
  p[at] = value >>> 8;
  p[at + 1] = value & 0xff;
}

const sizes = [40, 300, 12];

function link(outerVersion: 4 | 6, encap = false) {
  const l = espLink({ outerVersion, encap });
  const good = innerFor({ outerVersion }, sizes);
  const wire = l.wire(l.send(good));
  return { l, good, wire };
}

/** Receives `first` then the rest of `wire`: returns first's verdict after checking the rest arrived intact. */
function verdictOf(l: ReturnType<typeof espLink>, good: Uint8Array[], first: Uint8Array, wire: Uint8Array[]) {
  const v = l.receive([first, ...wire.slice(1)]);
  for (let i = 1; i < v.count; i++) {
    assert.equal(v.verdict[i], VERDICT_FORWARD, `packet ${i} after the first`);
    assert.equal(hex(packetAt(v, i)), hex(good[i]!));
  }
  return { verdict: v.verdict[0], inner: v.verdict[0] === VERDICT_FORWARD ? hex(packetAt(v, 0)) : '' };
}

/** ESP in UDP over `version` with a zero, a right and a wrong UDP checksum. */
function checksumCases(version: 4 | 6): void {
  const udpAt = version === 4 ? 20 : 40;
  for (const check of ['zero', 'right', 'wrong'] as const) {
    const { l, good, wire } = link(version, true);
    const p = wire[0]!.slice();
    const sum = udpChecksum(p, udpAt, version === 4);
    if (check !== 'zero') setU16(p, udpAt + 6, check === 'right' ? sum : sum ^ 0x0100);
    const r = verdictOf(l, good, p, wire);
    assert.equal(r.verdict, check === 'wrong' ? DropReason.badChecksum : VERDICT_FORWARD, check);
    if (check !== 'wrong') assert.equal(r.inner, hex(good[0]!));
  }
}

describe('inbound ESP: outer IPv4 header', () => {
  it('a header with options goes the general way and is delivered', () => {
    const { l, good, wire } = link(4);
    const p = wire[0]!;
    const withOptions = new Uint8Array(p.length + 4);
    withOptions.set(p.subarray(0, 20), 0);
    withOptions.set([1, 1, 1, 0], 20);
    withOptions.set(p.subarray(20), 24);
    withOptions[0] = 0x46;
    setU16(withOptions, 2, withOptions.length);
    fixIpv4Checksum(withOptions);
    const r = verdictOf(l, good, withOptions, wire);
    assert.equal(r.verdict, VERDICT_FORWARD);
    assert.equal(r.inner, hex(good[0]!));
  });

  it('a bad header checksum, a fragment and a total length under 20 are dropped with their reasons', () => {
    const cases: [string, (p: Uint8Array) => void, number][] = [
      [
        'checksum',
        (p) => {
          p[11] = p[11]! ^ 0x01;
        },
        DropReason.badChecksum,
      ],
      [
        'more fragments',
        (p) => {
          p[6] = 0x20;
          fixIpv4Checksum(p);
        },
        DropReason.fragment,
      ],
      [
        'fragment offset',
        (p) => {
          p[7] = 0x10;
          fixIpv4Checksum(p);
        },
        DropReason.fragment,
      ],
      [
        'total length',
        (p) => {
          setU16(p, 2, 19);
          fixIpv4Checksum(p);
        },
        DropReason.badTotalLength,
      ],
    ];
    for (const [name, spoil, reason] of cases) {
      const { l, good, wire } = link(4);
      const p = wire[0]!.slice();
      spoil(p);
      assert.equal(verdictOf(l, good, p, wire).verdict, reason, name);
      assert.equal(dropCount(l.decoder.totals, reason), 1, `${name}: counted once`);
      assert.equal(dropCount(l.in.counters, reason), 0, `${name}: before any SA was found`);
    }
  });

  it('ESP in UDP: a zero checksum is none, a right one is checked and delivered, a wrong one dropped', () => {
    checksumCases(4);
  });
});

describe('inbound ESP: outer IPv6 header', () => {
  it('an extension header before ESP goes the general way and is delivered', () => {
    const { l, good, wire } = link(6);
    const p = wire[0]!;
    const withOptions = new Uint8Array(p.length + 8);
    withOptions.set(p.subarray(0, 40), 0);
    // Destination options: next header ESP, length 0 (8 bytes), one PadN of 4 bytes of padding.
    withOptions.set([50, 0, 1, 4, 0, 0, 0, 0], 40);
    withOptions.set(p.subarray(40), 48);
    withOptions[6] = 60;
    setU16(withOptions, 4, withOptions.length - 40);
    const r = verdictOf(l, good, withOptions, wire);
    assert.equal(r.verdict, VERDICT_FORWARD);
    assert.equal(r.inner, hex(good[0]!));
  });

  it('a payload length beyond the packet, and a truncated header, are dropped with their reasons', () => {
    const { l, good, wire } = link(6);
    const long = wire[0]!.slice();
    setU16(long, 4, long.length - 40 + 1);
    assert.equal(verdictOf(l, good, long, wire).verdict, DropReason.badTotalLength);
    const { l: l2, good: g2, wire: w2 } = link(6);
    assert.equal(verdictOf(l2, g2, w2[0]!.slice(0, 39), w2).verdict, DropReason.truncated);
  });

  it('ESP in UDP: a zero checksum is taken (RFC 6935), a right one delivered, a wrong one dropped', () => {
    checksumCases(6);
  });
});
