import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoStatus, createPacketBatch, createSaCipher, type SaCipher } from '@espresso/crypto';
import {
  createModeOutlet,
  createPacketVector,
  createSaRuntime,
  EspOutbound,
  type PacketVector,
  resolveSaConfig,
  type SaConfig,
  type SaRuntime,
  setPacket,
  zeroSaParameters,
} from '@espresso/esp';
import { algorithmCases, packetAt, saPair } from '@espresso/esp/testing';
import { readU32 } from '@espresso/wire';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { startTestPool } from '../testing/test-pool.ts';
import { chooseOwner } from './owner-assignment.ts';
import type { WorkerPool } from './worker-pool.ts';

/**
 * The two SAs of an IP-TFS congestion pair (RFC 9347 §6) share one congestion control, which lives in
 * one worker: the pool places them on the same worker, whichever comes first, where least-used
 * placement would have split them. Through the pool, gateway A's inbound SA takes the congestion
 * header peer B sends, and A's outbound SA echoes B's TVal in its own (TEcho): the information crossed
 * from one SA to the other inside the worker that owns both.
 */

const PACKET_SIZE = 400;
const iptfs = {
  packetSize: PACKET_SIZE,
  constantRate: { bitsPerSecond: 8 * PACKET_SIZE * 200 },
  congestionControl: true,
  congestionPair: 'to-b',
};
const alg = algorithmCases(71)[2]!;
/** A to B (A's outbound SA) and B to A (A's inbound SA). */
const ab = saPair(alg, { spi: 0x7101, mode: 'iptfs', extra: { iptfs } });
const ba = saPair(algorithmCases(72)[2]!, { spi: 0x7102, mode: 'iptfs', extra: { iptfs } });

/** The AGGFRAG congestion header fields of RFC 9347 §6.1.2 this test reads, by octet offset. */
const SUBTYPE_AT = 0;
const TVAL_AT = 16;
const TECHO_AT = 20;

/** Opens A's outer packets with B's copy of the A-to-B keys: the crypto engine alone, no IP-TFS code. */
class PeerOpener {
  private readonly cipher: SaCipher;
  private readonly ivBytes: number;

  constructor(config: SaConfig) {
    const params = resolveSaConfig(config);
    this.cipher = createSaCipher(params.cipherSpec, params.keys, params.engine);
    this.ivBytes = 8;
    zeroSaParameters(params);
  }

  /** The AGGFRAG payload of an IPv4 ESP packet, or null when it does not verify. */
  payload(packet: Uint8Array): Uint8Array | null {
    const buf = packet.slice();
    const batch = createPacketBatch(buf, 1);
    batch.offset[0] = 20;
    batch.length[0] = buf.length - 20;
    batch.count = 1;
    this.cipher.open(batch, 0, 1);
    if (batch.status[0] !== CryptoStatus.ok) return null;
    return buf.subarray(20 + 8 + this.ivBytes);
  }

  destroy(): void {
    this.cipher.destroy();
  }
}

/** What B's outbound SA (constant rate, congestion control) has due at `now`, sealed. */
function peerPackets(sa: SaRuntime, now: number): Uint8Array[] {
  const slot = 128 + PACKET_SIZE + 64;
  const v = createPacketVector(new Uint8Array(slot * 8), 8);
  const outlet = createModeOutlet(v, {
    claim(vector: PacketVector, i: number): boolean {
      setPacket(vector, i, i * slot + 128, 0, i * slot, (i + 1) * slot);
      return true;
    },
    release(): void {},
  });
  const n = new EspOutbound({ capacity: 8 }).emitModePackets(sa, now, outlet);
  return Array.from({ length: n }, (_, i) => packetAt(v, i));
}

describe('IP-TFS congestion pairs on the worker pool', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;

  before(async () => {
    ({ pool, driver } = await startTestPool());
  });
  after(() => pool.close());

  it('chooseOwner: a paired SA follows its partner unless steering or a per-worker group decides', () => {
    const q = { direction: 'out' as const, spi: 1, binding: null, resourceKind: null, congestionPair: 'p' };
    const partnerOn = (w: number) => (label: string) => (label === 'p' ? w : -1);
    assert.equal(
      chooseOwner(q, 4, [0, 0, 0, 0], () => -1, partnerOn(3)),
      3,
    );
    assert.equal(
      chooseOwner(q, 4, [1, 0, 1, 1], () => -1, partnerOn(-1)),
      1,
      'no partner yet',
    );
    assert.equal(
      chooseOwner({ ...q, congestionPair: null }, 4, [1, 0, 1, 1], () => -1, partnerOn(3)),
      1,
    );
    const inbound = { ...q, direction: 'in' as const };
    assert.equal(
      chooseOwner(inbound, 4, [0, 0, 0, 0], () => 2, partnerOn(3)),
      2,
      'io steers by SPI',
    );
  });

  it('places the pair on one worker, where least-used placement would split it, and congestion information flows between them', async () => {
    // A filler SA on worker 0 makes worker 1 the least used for the outbound SA; after it, both workers
    // own one SA and least-used placement would put the inbound SA on worker 0.
    await pool.install(installSpec('filler', gcmPair(0x7100).out));
    assert.equal(pool.placement('filler')!.owner, 0);
    await pool.install(installSpec('a-out', ab.out));
    await pool.install(installSpec('a-in', ba.in));
    const owner = pool.placement('a-out')!.owner;
    assert.equal(owner, 1);
    assert.equal(pool.placement('a-in')!.owner, owner, 'the pair on one worker');

    // Peer B sends A congestion headers carrying its TVal.
    const peerOut = createSaRuntime(ba.out, { now: 0 });
    const fromB = peerPackets(peerOut, 5);
    assert.ok(fromB.length > 0);
    const opener = new PeerOpener(ab.in);
    const peerView = new PeerOpener(ba.in);
    const tval = readU32(peerView.payload(fromB[0]!)!, TVAL_AT);
    assert.notEqual(tval, 0);
    peerView.destroy();
    for (const p of fromB) assert.equal(driver.inject('inbound', p), owner, 'steered to the pair owner');

    // A's outbound SA sends all the time (constant rate): soon one of its packets echoes that TVal.
    let echoed = 0;
    const echoes = () => {
      for (const d of driver.drained) {
        if (d.to !== 'outside' || readU32(d.bytes, 20) !== 0x7101) continue;
        const payload = opener.payload(d.bytes);
        assert.ok(payload !== null, "A's outer packet verifies with B's keys");
        assert.equal(payload[SUBTYPE_AT], 1, 'congestion-control header');
        if (readU32(payload, TECHO_AT) === tval) echoed++;
      }
      driver.drained.length = 0;
      return echoed > 0;
    };
    await driver.settle(echoes, 10_000);
    assert.ok(echoed > 0, "A's outbound SA echoed the TVal A's inbound SA received");
    opener.destroy();
    peerOut.destroy();
  });

  it('an SA installed after its partner goes to the partner, and the label is free again once both are gone', async () => {
    await pool.remove('a-out');
    await pool.remove('a-in');
    await pool.install(installSpec('b-in', ba.in));
    const inOwner = pool.placement('b-in')!.owner;
    await pool.install(installSpec('b-out', ab.out));
    assert.equal(pool.placement('b-out')!.owner, inOwner, 'the outbound SA joins the inbound one');
  });
});
