import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { WIRE_OK } from '@espresso/wire';
import {
  AggfragFlag,
  createAggfragHeader,
  parseAggfragHeader,
  writeAggfragBasicHeader,
  writeAggfragCongestionHeader,
} from './aggfrag-header.ts';
import { toHex } from './testing/packets.ts';

// No published AGGFRAG test vectors with fixed bytes exist. The expected bytes below are written by
// hand from RFC 9347 §6.1.1 (Figure 4) and §6.1.2 (Figure 5): sub-type octet, reserved (or
// Reserved|P|E) octet, 16-bit BlockOffset, then for sub-type 1 the LossEventRate word, RTT (22 bits) |
// Echo Delay (21) | Transmit Delay (21) across two words, TVal and TEcho; all big-endian.

describe('AGGFRAG header codec (RFC 9347 §6.1)', () => {
  it('writes the non-congestion-control header of Figure 4', () => {
    const buf = new Uint8Array(4).fill(0xee);
    assert.equal(writeAggfragBasicHeader(buf, 0, 100), 4);
    assert.equal(toHex(buf), '00000064');
  });

  it('writes the congestion-control header of Figure 5 bit for bit', () => {
    const h = createAggfragHeader();
    h.flags = AggfragFlag.ecn | AggfragFlag.probing;
    h.lossEventRate = 0x01020304;
    h.rtt = 0x2aaaaa; // 22 bits 1010...10
    h.echoDelay = 0x155555; // 21 bits 1010...01: the alternation runs on
    h.transmitDelay = 0x0abcde; // 21 bits 0 1010 1011 1100 1101 1110
    h.tval = 0xdeadbeef;
    h.techo = 0x01234567;
    const buf = new Uint8Array(24);
    assert.equal(writeAggfragCongestionHeader(buf, 0, 0x0102, h), 24);
    assert.equal(
      toHex(buf),
      ['01030102', '01020304', 'aaaaaaaa', 'aaaabcde', 'deadbeef', '01234567'].join(''),
    );
  });

  it('parses both formats back, ignoring reserved bits on receipt', () => {
    const h = createAggfragHeader();
    const basic = Uint8Array.from([0x00, 0xff, 0x07, 0xd0, 0x45]);
    assert.equal(parseAggfragHeader(basic, 0, basic.length, h), WIRE_OK);
    assert.deepEqual([h.subtype, h.blockOffset, h.headerBytes, h.flags], [0, 2000, 4, 0]);

    const cc = Buffer.from(
      '01ff0258' + '00000010' + 'aaaaaaaa' + 'aaaabcde' + 'deadbeef' + '01234567',
      'hex',
    );
    assert.equal(parseAggfragHeader(cc, 0, cc.length, h), WIRE_OK);
    assert.equal(h.subtype, 1);
    assert.equal(h.flags, 3, 'only P and E survive; the six reserved bits are ignored');
    assert.equal(h.blockOffset, 600);
    assert.equal(h.lossEventRate, 16);
    assert.equal(h.rtt, 0x2aaaaa);
    assert.equal(h.echoDelay, 0x155555);
    assert.equal(h.transmitDelay, 0x0abcde);
    assert.equal(h.tval, 0xdeadbeef);
    assert.equal(h.techo, 0x01234567);
    assert.equal(h.headerBytes, 24);
  });

  it('saturates the time fields at their maxima (§6.1.2)', () => {
    const h = createAggfragHeader();
    h.rtt = 10_000_000;
    h.echoDelay = 5_000_000;
    h.transmitDelay = 3_000_000;
    const buf = new Uint8Array(24);
    writeAggfragCongestionHeader(buf, 0, 0, h);
    const back = createAggfragHeader();
    parseAggfragHeader(buf, 0, 24, back);
    assert.deepEqual([back.rtt, back.echoDelay, back.transmitDelay], [0x3fffff, 0x1fffff, 0x1fffff]);
    assert.equal(toHex(buf.subarray(8, 16)), 'ffffffffffffffff');
  });

  it('refuses runts and unknown sub-types with their reasons', () => {
    const h = createAggfragHeader();
    assert.equal(parseAggfragHeader(Uint8Array.from([0, 0, 0]), 0, 3, h), DropReason.iptfsRunt);
    assert.equal(
      parseAggfragHeader(new Uint8Array(23).fill(0).fill(1, 0, 1), 0, 23, h),
      DropReason.iptfsRunt,
    );
    assert.equal(parseAggfragHeader(Uint8Array.from([2, 0, 0, 0]), 0, 4, h), DropReason.iptfsUnknownSubtype);
    // The declared length is honoured even when the array is longer.
    assert.equal(parseAggfragHeader(new Uint8Array(64), 0, 2, h), DropReason.iptfsRunt);
    assert.equal(parseAggfragHeader(new Uint8Array(4), 2, 4, h), DropReason.iptfsRunt);
  });
});
