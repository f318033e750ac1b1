import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IptfsConfig } from '@espresso/iptfs';
import { CollectingSink } from '@espresso/iptfs/testing';
import { EspInbound } from '../inbound.ts';
import { InboundSaTable } from '../inbound-sa-table.ts';
import { EspOutbound } from '../outbound.ts';
import { createPacketVector, type PacketVector, setPacket, VERDICT_FORWARD } from '../packet-vector.ts';
import { validateSaConfig } from '../sa-config-validate.ts';
import { createSaRuntime, type SaRuntime } from '../sa-runtime.ts';
import { algorithmCases, packetAt, saPair, vectorOf } from '../testing/fixtures.ts';
import { createModeOutlet, type ModeEnvironment, type ModeOutlet, type PacketSlots } from './mode.ts';

/**
 * Congestion control across an SA pair (RFC 9347 §6): gateway A's outbound SA to B and its inbound SA
 * from B share one congestion control (`iptfs.congestionPair`), and so do B's. B's inbound SA measures
 * the loss on A's packets; B's outbound SA reports it in the congestion header of every packet to A;
 * A's inbound SA takes those headers, and A's constant-rate sender slows to the TFRC rate for that loss.
 * Without loss, A keeps its configured rate. Time runs on a simulated clock: no timing in the test.
 */

const HEADROOM = 128;
const TAILROOM = 64;
const SLOTS = 64;
const PACKET_SIZE = 400;
/** 200 outer packets a second. */
const iptfs: IptfsConfig = {
  packetSize: PACKET_SIZE,
  constantRate: { bitsPerSecond: 8 * PACKET_SIZE * 200 },
  congestionControl: true,
  congestionPair: 'a-b',
};

function slotsOf(slot: number): PacketSlots {
  return {
    claim(v: PacketVector, i: number): boolean {
      setPacket(v, i, i * slot + HEADROOM, 0, i * slot, (i + 1) * slot);
      return true;
    },
    release(): void {},
  };
}

interface Gateway {
  out: SaRuntime;
  in: SaRuntime;
  encoder: EspOutbound;
  decoder: EspInbound;
  outlet: ModeOutlet;
}

/** Both gateways, each with its outbound SA and the inbound SA of the other direction, paired. */
function gateways(): { a: Gateway; b: Gateway } {
  const alg = algorithmCases()[2]!;
  const ab = saPair(alg, { spi: 0x5101, mode: 'iptfs', extra: { iptfs } });
  const ba = saPair(alg, { spi: 0x5102, mode: 'iptfs', extra: { iptfs } });
  const gateway = (out: unknown, inbound: unknown, ids: [number, number]): Gateway => {
    const sink = new CollectingSink();
    const env: ModeEnvironment = { innerSink: () => sink };
    const o = createSaRuntime(out, { id: ids[0], modeEnvironment: env });
    const i = createSaRuntime(inbound, { id: ids[1], modeEnvironment: env });
    const table = new InboundSaTable();
    table.add(i);
    const slot = HEADROOM + PACKET_SIZE + TAILROOM;
    return {
      out: o,
      in: i,
      encoder: new EspOutbound({ capacity: SLOTS }),
      decoder: new EspInbound({ capacity: SLOTS, table }),
      outlet: createModeOutlet(createPacketVector(new Uint8Array(slot * SLOTS), SLOTS), slotsOf(slot)),
    };
  };
  return { a: gateway(ab.out, ba.in, [1, 2]), b: gateway(ba.out, ab.in, [3, 4]) };
}

/** What `g`'s constant-rate sender has due at `now`, sealed. */
function emit(g: Gateway, now: number): Uint8Array[] {
  g.outlet.from = 0;
  g.outlet.to = SLOTS;
  const n = g.encoder.emitModePackets(g.out, now, g.outlet);
  const v = g.outlet.vector;
  const wire: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    assert.equal(v.verdict[i], VERDICT_FORWARD);
    wire.push(packetAt(v, i));
  }
  return wire;
}

function receive(g: Gateway, wire: readonly Uint8Array[], now: number): void {
  if (wire.length === 0) return;
  const v = vectorOf(wire);
  g.decoder.decapsulate(v, 0, v.count, now);
}

/**
 * Runs both gateways for `seconds` of simulated time in 5 ms steps, A's packets to B losing every
 * `lossEvery`th (0: none). Returns how many outer packets A sent in the last quarter. A learns of the
 * loss only from the congestion headers B sends it.
 */
function run(seconds: number, lossEvery: number): number {
  const { a, b } = gateways();
  let sent = 0;
  let lastQuarter = 0;
  const steps = Math.round(seconds / 0.005);
  for (let step = 1; step <= steps; step++) {
    const now = step * 0.005;
    const fromA = emit(a, now);
    for (const _ of fromA) {
      sent++;
      if (step > (3 * steps) / 4) lastQuarter++;
    }
    receive(
      b,
      fromA.filter((_, i) => lossEvery === 0 || (sent - fromA.length + i + 1) % lossEvery !== 0),
      now + 0.01,
    );
    receive(a, emit(b, now), now + 0.01);
  }
  for (const sa of [a.out, a.in, b.out, b.in]) sa.destroy();
  return lastQuarter;
}

describe('IP-TFS congestion control across an SA pair (RFC 9347 §6)', () => {
  it('with loss on A to B, B reports it and A sends slower; without, A keeps its rate', () => {
    const clean = run(8, 0);
    const lossy = run(8, 10);
    // 200 a second for 2 s.
    assert.ok(clean >= 380, `without loss: ${clean} in the last 2 s`);
    assert.ok(lossy < 0.8 * clean, `with 10% loss: ${lossy} against ${clean}`);
  });

  it('congestionPair needs congestionControl', () => {
    const alg = algorithmCases()[2]!;
    const pair = saPair(alg, { mode: 'iptfs', extra: { iptfs: { packetSize: 500, congestionPair: 'x' } } });
    const r = validateSaConfig(pair.out, '/sas/0');
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.issues.map((i) => i.path), ['/sas/0/iptfs/congestionPair']);
  });
});
