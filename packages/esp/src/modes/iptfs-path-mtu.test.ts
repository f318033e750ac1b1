import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IptfsConfig } from '@espresso/iptfs';
import { testPacket } from '@espresso/iptfs/testing';
import { EspOutbound } from '../outbound.ts';
import {
  createPacketVector,
  type PacketVector,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '../packet-vector.ts';
import { createSaRuntime, type SaRuntime } from '../sa-runtime.ts';
import { algorithmCases, packetAt, saPair, vectorOf } from '../testing/fixtures.ts';
import { setIptfsPathMtu } from './iptfs.ts';
import { createModeOutlet, type ModeOutlet } from './mode.ts';

/**
 * An outbound IP-TFS SA whose `packetSize` is 0 sends outer packets of the path MTU: the one the
 * datapath gives when the SA is built, then whatever `setIptfsPathMtu` reports (an ICMP error lowered
 * it, or it aged back up). An SA with a fixed packetSize keeps it.
 */

const HEADROOM = 128;
const SLOT = 2048;
const SLOTS = 32;

function sender(iptfs: IptfsConfig): { sa: SaRuntime; encoder: EspOutbound; outlet: ModeOutlet } {
  const pair = saPair(algorithmCases()[2]!, { mode: 'iptfs', extra: { iptfs } });
  const sa = createSaRuntime(pair.out, { modeEnvironment: { pathMtu: 1500 } });
  const vector = createPacketVector(new Uint8Array(SLOT * SLOTS), SLOTS);
  const outlet = createModeOutlet(vector, {
    claim(v: PacketVector, i: number): boolean {
      setPacket(v, i, i * SLOT + HEADROOM, 0, i * SLOT, (i + 1) * SLOT);
      return true;
    },
    release(): void {},
  });
  return { sa, encoder: new EspOutbound({ capacity: SLOTS }), outlet };
}

/** Queues 6000 octets of inner packets and returns the sizes of the outer packets they leave in. */
function outerSizes(s: ReturnType<typeof sender>, seed: number): number[] {
  const inner = Array.from({ length: 6 }, (_, i) => testPacket(4, 1000, { seed: seed + i }));
  const v = vectorOf(inner);
  s.encoder.encapsulate(s.sa, v, 0, v.count, 0);
  for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_CONSUMED);
  s.outlet.drain = true;
  s.outlet.from = 0;
  s.outlet.to = SLOTS;
  const n = s.encoder.emitModePackets(s.sa, 0, s.outlet);
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    assert.equal(s.outlet.vector.verdict[i], VERDICT_FORWARD);
    sizes.push(packetAt(s.outlet.vector, i).length);
  }
  return sizes;
}

describe('IP-TFS outer packet size follows the path MTU (packetSize 0)', () => {
  it('packets of the path MTU, then of each new one reported', () => {
    const s = sender({ packetSize: 0, padToSize: true });
    assert.deepEqual(new Set(outerSizes(s, 1)), new Set([1500]));
    assert.equal(setIptfsPathMtu(s.sa, 1000), true);
    const lowered = outerSizes(s, 10);
    assert.deepEqual(new Set(lowered), new Set([1000]));
    assert.ok(lowered.length >= 6, 'more, smaller packets for the same data');
    assert.equal(setIptfsPathMtu(s.sa, 1400), true);
    assert.deepEqual(new Set(outerSizes(s, 20)), new Set([1400]));
    s.sa.destroy();
  });

  it('a fixed packetSize stays', () => {
    const s = sender({ packetSize: 1200, padToSize: true });
    assert.equal(setIptfsPathMtu(s.sa, 900), false);
    assert.deepEqual(new Set(outerSizes(s, 1)), new Set([1200]));
    s.sa.destroy();
  });
});
