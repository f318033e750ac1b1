import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { readU32 } from '@espresso/wire';
import type { WorkerPool } from '@espresso/workers';
import { installSpec, type PoolDriver, spdOf, startTestPool } from '@espresso/workers/testing';

/**
 * Gateway A (a pool of two workers) protects, gateway B (another pool of two workers) decrypts what A
 * sent, over one SA per algorithm family x mode x address family; B's inner packets must be A's input
 * byte for byte. The two pools share nothing: the test's io copies each ESP packet from A's tx ring into
 * one of B's slots and steers it by SPI, as a wire between two machines would.
 */

interface Case {
  readonly name: string;
  readonly spi: number;
  readonly port: number;
  readonly version: 4 | 6;
  readonly mode: 'tunnel' | 'transport';
}

const wanted = new Set([
  'aes-gcm-256-icv16',
  'chacha20-poly1305',
  'aes-cbc-128+hmac-sha256-128',
  'aes-gmac-128',
]);
const algorithms = algorithmCases(9).filter((a) => wanted.has(a.name));
const cases: Case[] = [];
const outs: ReturnType<typeof saPair>['out'][] = [];
const ins: ReturnType<typeof saPair>['in'][] = [];
const aPolicies: Record<string, unknown>[] = [];
const bPolicies: Record<string, unknown>[] = [];
for (const alg of algorithms) {
  for (const mode of ['tunnel', 'transport'] as const) {
    for (const version of [4, 6] as const) {
      const n = cases.length;
      const spi = 0xa000 + n;
      const port = 41000 + n;
      const name = `${alg.name}-${mode}-v${version}`;
      const pair = saPair(alg, { spi, mode, outerVersion: version, innerVersion: version });
      cases.push({ name, spi, port, version, mode });
      outs.push(pair.out);
      ins.push(pair.in);
      const a = ADDRESSES[version];
      const src = mode === 'transport' ? a.a : a.innerA;
      const dst = mode === 'transport' ? a.b : a.innerB;
      const selector = { protocol: 'udp', action: 'protect', template: { mode, sa: { name } } };
      aPolicies.push({
        id: `a-${n}`,
        direction: 'out',
        local: src,
        remote: dst,
        localPorts: port,
        ...selector,
      });
      bPolicies.push({
        id: `b-${n}`,
        direction: 'in',
        local: dst,
        remote: src,
        remotePorts: port,
        ...selector,
      });
    }
  }
}

/** Inner packets of case `c`: UDP from its port, sizes from tiny to near the MTU. */
function innerOf(c: Case, index: number): Uint8Array {
  const a = ADDRESSES[c.version];
  return innerPacket({
    version: c.version,
    src: c.mode === 'transport' ? a.a : a.innerA,
    dst: c.mode === 'transport' ? a.b : a.innerB,
    payloadBytes: [1, 40, 333, 1200][index % 4]!,
    seed: c.port - 40000,
  });
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('ESP round trip through two worker pools: A encrypts, B decrypts', () => {
  let a: { pool: WorkerPool; driver: PoolDriver };
  let b: { pool: WorkerPool; driver: PoolDriver };
  const sent: Uint8Array[] = [];

  before(async () => {
    a = await startTestPool();
    b = await startTestPool();
    for (const [i, c] of cases.entries()) {
      await a.pool.install(installSpec(c.name, outs[i]!));
      await b.pool.install(installSpec(c.name, ins[i]!));
    }
    await a.pool.applySpd(spdOf(aPolicies));
    await b.pool.applySpd(spdOf(bPolicies));
  });
  after(async () => {
    await a.pool.close();
    await b.pool.close();
  });

  it(`covers ${cases.length} SAs: four algorithm families, tunnel and transport, IPv4 and IPv6`, () => {
    assert.equal(algorithms.length, 4);
    assert.equal(cases.length, 16);
  });

  it('every inner packet comes out of B byte for byte, each SA processed on its owner in both pools', async () => {
    for (let round = 0; round < 8; round++) {
      for (const c of cases) {
        const packet = innerOf(c, round);
        sent.push(packet);
        assert.ok(a.driver.inject('outbound', packet) >= 0);
      }
      await a.driver.settle(() => a.driver.drained.length >= sent.length);
    }
    await a.driver.quiesce();
    assert.equal(a.driver.drained.length, sent.length);
    const spiOfOuter = (p: Uint8Array) => readU32(p, p[0]! >>> 4 === 4 ? 20 : 40);
    for (const d of a.driver.drained) {
      const spi = spiOfOuter(d.bytes);
      const c = cases.find((x) => x.spi === spi)!;
      assert.equal(d.worker, a.pool.placement(c.name)!.owner, `${c.name} encrypted off its owner`);
      assert.ok(b.driver.inject('inbound', d.bytes) >= 0);
      if (b.pool.io.backlog(0) + b.pool.io.backlog(1) > 128)
        await b.driver.settle(() => b.driver.drain() === 0);
    }
    await b.driver.settle(() => b.driver.drained.length >= sent.length);
    await b.driver.quiesce();
    assert.equal(b.driver.drained.length, sent.length);
    const expected = sent.map(hex).sort();
    const got = b.driver.drained.map((d) => hex(d.bytes)).sort();
    assert.deepEqual(got, expected);
    assert.equal(b.pool.counters.snapshot().dropPackets, 0);
    for (const d of b.driver.drained) {
      const c = cases.find((x) => d.bytes[0]! >>> 4 === x.version && portOf(d.bytes, x) === x.port)!;
      assert.equal(d.worker, b.pool.placement(c.name)!.owner, `${c.name} decrypted off its owner`);
    }
  });

  it("each SA's packets left B in the order A sent them", () => {
    for (const c of cases) {
      const mine = (p: Uint8Array) => p[0]! >>> 4 === c.version && portOf(p, c) === c.port;
      const fromA = sent.filter(mine);
      const fromB = b.driver.drained.map((d) => d.bytes).filter(mine);
      assert.equal(fromA.length, 8);
      assert.deepEqual(fromB.map(hex), fromA.map(hex), c.name);
    }
  });
});

/** The UDP source port of an inner packet of this case's family. */
function portOf(p: Uint8Array, c: Case): number {
  const at = c.version === 4 ? 20 : 40;
  return (p[at]! << 8) | p[at + 1]!;
}
