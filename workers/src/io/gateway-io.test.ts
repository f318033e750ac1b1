import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { innerPacket } from '@espresso/esp/testing';
import { splitKeys } from '@espresso/sad';
import { loadSysAddon } from '@espresso/sys';
import { parsePrefix } from '@espresso/wire';
import type { WorkerPool } from '../pool/worker-pool.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { INSIDE_B, inboundPolicy, outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { GatewayIo } from './gateway-io.ts';
import { MemoryInside } from './testing/memory-inside.ts';

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const helper = loadSysAddon();
const noHelper = typeof helper === 'string' ? helper : false;

interface PairSetup {
  readonly name: string;
  readonly a: string;
  readonly b: string;
  readonly aSocket: 'batched' | 'dgram';
  readonly bSocket: 'batched' | 'dgram';
}

/**
 * Both UDP sockets (the helper's, batched, and node:dgram), each sending on one side and receiving on
 * the other, so each one's send and receive meet the other's; and the batched one over IPv6.
 */
const setups: PairSetup[] = [
  { name: 'A batched, B dgram', a: '127.0.0.1', b: '127.0.0.2', aSocket: 'batched', bSocket: 'dgram' },
  { name: 'A dgram, B batched', a: '127.0.0.1', b: '127.0.0.2', aSocket: 'dgram', bSocket: 'batched' },
  { name: 'both batched, IPv6', a: '::1', b: '::1', aSocket: 'batched', bSocket: 'batched' },
];

for (const setup of setups) {
  /**
   * Two gateways in this process on loopback UDP, no root needed: A encrypts what its inside gives it,
   * B decrypts and writes it to its inside.
   */
  describe(`gateway io on loopback UDP (${setup.name})`, { skip: noHelper }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'espresso-gateway-io-'));
    let poolA: WorkerPool;
    let poolB: WorkerPool;
    let a: GatewayIo;
    let b: GatewayIo;
    const insideA = new MemoryInside();
    const insideB = new MemoryInside();

    before(async () => {
      poolA = (await startTestPool({ workers: 2 })).pool;
      poolB = (await startTestPool({ workers: 2 })).pool;
      const common = { mtu: 1500, natKeepaliveSeconds: 1, icmp: false as const, captureDirectory: dir };
      a = await GatewayIo.start(poolA.io, poolA.storage, {
        ...common,
        outside: [{ kind: 'udp', address: setup.a, port: 0, socket: setup.aSocket }],
        inside: insideA,
      });
      b = await GatewayIo.start(poolB.io, poolB.storage, {
        ...common,
        outside: [{ kind: 'udp', address: setup.b, port: 0, socket: setup.bSocket }],
        inside: insideB,
      });
      const pair = gcmPair(0x1001);
      const encap = { type: 'udp' as const, sourcePort: a.udp[0]!.port, destinationPort: b.udp[0]!.port };
      const out: SaConfig = { ...pair.out, local: setup.a, remote: setup.b, encap };
      const inbound: SaConfig = { ...pair.in, local: setup.b, remote: setup.a, encap };
      await poolA.install(installSpec('a-out', out));
      await poolB.install(installSpec('b-in', inbound));
      await poolA.applySpd(spdOf([outboundPolicy('to-b', { sa: { name: 'a-out' } })]));
      await poolB.applySpd(spdOf([inboundPolicy('from-a', { sa: { name: 'b-in' } })]));
      a.updatePaths(
        [{ name: 'a-out', spi: 0x1001, config: splitKeys(out).stored }],
        [{ prefix: parsePrefix(INSIDE_B)!, sas: ['a-out'] }],
      );
    });

    after(async () => {
      await a?.close();
      await b?.close();
      await poolA?.close();
      await poolB?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('inner packets go in at A and come out of B as they were', async () => {
      const packets = Array.from({ length: 200 }, (_, i) =>
        innerPacket({
          version: 4,
          src: '10.1.0.2',
          dst: `10.2.0.${(i % 50) + 2}`,
          payloadBytes: 40 + i,
          seed: i,
        }),
      );
      insideA.push(packets);
      await until(() => insideB.written.length >= packets.length);
      const key = (p: Uint8Array) => Buffer.from(p).toString('hex');
      assert.deepEqual(insideB.written.map(key).sort(), packets.map(key).sort());
      const sa = poolB.saCounters('b-in')!;
      assert.equal(sa.packets, packets.length);
      assert.equal(a.stats().outside[0]!.txPackets, packets.length);
      assert.equal(b.stats().outside[0]!.rxPackets, packets.length);
      assert.equal(b.stats().inside.txPackets, packets.length);
      assert.equal(a.udp[0]!.batched, setup.aSocket === 'batched');
      assert.equal(b.udp[0]!.batched, setup.bSocket === 'batched');
    });

    test('NAT keepalives to the peer of a UDP-encapsulated SA, counted where they arrive', async () => {
      const sent = a.keepalivesSent;
      await until(() => a.keepalivesSent > sent && b.keepalivesReceived > 0, 5000);
      assert.ok(b.stats().natKeepalives.received >= 1);
    });

    test('a DF packet too big for the SA path comes back as ICMP fragmentation needed (no ICMP socket: through the inside)', async () => {
      const innerMtu = a.paths.get('a-out')!.innerMtu;
      const big = innerPacket({
        version: 4,
        src: '10.1.0.2',
        dst: '10.2.0.9',
        payloadBytes: 1420,
        dontFragment: true,
      });
      assert.ok(big.length > innerMtu);
      const before = insideA.written.length;
      insideA.push([big]);
      await until(() => insideA.written.length > before);
      const icmp = insideA.written.at(-1)!;
      assert.equal(icmp[9], 1, 'ICMP');
      assert.deepEqual([icmp[20], icmp[21]], [3, 4]);
      assert.equal((icmp[26]! << 8) | icmp[27]!, innerMtu);
      assert.equal(a.stats().drops.too_big, 1);
    });
  });
}
