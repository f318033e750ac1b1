import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { splitKeys } from '@espresso/sad';
import { parseIpAddress, parsePrefix } from '@espresso/wire';
import type { PoolAck } from '../pool/ack-tracker.ts';
import type { WorkerPool } from '../pool/worker-pool.ts';
import { installSpec } from '../testing/sa-fixtures.ts';
import { spdOf, startTestPool } from '../testing/test-pool.ts';
import { GatewayIo } from './gateway-io.ts';
import { PMTU_AGE_MS } from './path-table.ts';
import { MemoryInside } from './testing/memory-inside.ts';

const SPI = 0x7600;
const LOCAL = '127.0.0.1';
const PEER = '127.0.0.3';

/**
 * What io learns of an SA's path MTU reaches the SA's owner: an IP-TFS SA with packetSize 0 on the pool
 * fills outer packets to the path MTU, so the UDP datagrams a plain socket at the peer receives are the
 * outside MTU's size, then, once an ICMP too-big report about the SA's packets lowered it, that size,
 * and the MTU again after the learned value aged back.
 */
describe('a path MTU io learns goes to the pool (IP-TFS follows it)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-pmtu-pool-'));
  const inside = new MemoryInside();
  const told: [string, number][] = [];
  const acks: Promise<PoolAck>[] = [];
  const datagrams: number[] = [];
  let pool: WorkerPool;
  let io: GatewayIo;
  let peer: dgram.Socket;

  before(async () => {
    peer = dgram.createSocket('udp4');
    peer.on('message', (m) => datagrams.push(m.length));
    peer.bind(0, PEER);
    await once(peer, 'listening');
    pool = (await startTestPool({ workers: 2, mtu: 1500 })).pool;
    io = await GatewayIo.start(pool.io, pool.storage, {
      outside: [{ kind: 'udp', address: LOCAL, port: 0 }],
      inside,
      mtu: 1500,
      natKeepaliveSeconds: 0,
      icmp: false,
      captureDirectory: dir,
      onPathMtu: (name, pathMtu) => {
        told.push([name, pathMtu]);
        acks.push(pool.setPathMtu(name, pathMtu));
      },
    });
    const pair = saPair(algorithmCases(23)[2]!, {
      spi: SPI,
      mode: 'iptfs',
      extra: { iptfs: { packetSize: 0, padToSize: true } },
    });
    const encap = { type: 'udp' as const, sourcePort: io.udp[0]!.port, destinationPort: peer.address().port };
    const out: SaConfig = { ...pair.out, local: LOCAL, remote: PEER, encap };
    await pool.install(installSpec('tfs', out));
    await pool.applySpd(
      spdOf([
        {
          id: 'out',
          direction: 'out',
          local: '10.1.0.0/16',
          remote: '10.2.0.0/16',
          action: 'protect',
          template: { mode: 'iptfs', sa: { name: 'tfs' } },
        },
      ]),
    );
    io.updatePaths(
      [{ name: 'tfs', spi: SPI, config: splitKeys(out).stored }],
      [{ prefix: parsePrefix('10.2.0.0/16')!, sas: ['tfs'] }],
    );
  });

  after(async () => {
    await io?.close();
    await pool?.close();
    peer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sizes of the datagrams that 8000 octets of inner packets leave in. */
  async function datagramSizes(seed: number): Promise<number[]> {
    const from = datagrams.length;
    inside.push(
      Array.from({ length: 8 }, (_, i) =>
        innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 972, seed: seed + i }),
      ),
    );
    // Enough outer packets for the 8000 octets, and a moment for a straggler.
    const deadline = Date.now() + 10_000;
    while (datagrams.length - from < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    return datagrams.slice(from);
  }

  const words = (text: string) => parseIpAddress(text)!.words;

  test('datagrams of the outside MTU, then of the MTU an ICMP report gave the SA, then again of the MTU', async () => {
    const first = await datagramSizes(1);
    assert.ok(first.length >= 6, `${first.length} datagrams`);
    assert.deepEqual(new Set(first), new Set([1500 - 28]), 'IPv4 and UDP headers are the kernel’s');

    // About another host's packets: nothing learned, nothing told.
    io.learnPathMtu({
      version: 4,
      local: words('127.0.0.9'),
      remote: words(PEER),
      port: -1,
      spi: SPI,
      mtu: 900,
    });
    assert.deepEqual(told, []);

    io.learnPathMtu({ version: 4, local: words(LOCAL), remote: words(PEER), port: -1, spi: SPI, mtu: 1000 });
    assert.deepEqual(told, [['tfs', 1000]]);
    assert.equal(io.paths.get('tfs')!.pmtu, 1000);
    assert.deepEqual((await acks[0]!).errors, []);
    const lowered = await datagramSizes(100);
    assert.deepEqual(new Set(lowered), new Set([1000 - 28]));

    // A larger value is no news (path MTUs only go down until they age).
    io.learnPathMtu({ version: 4, local: words(LOCAL), remote: words(PEER), port: -1, spi: SPI, mtu: 1200 });
    assert.equal(told.length, 1);

    io.paths.age(Date.now() + PMTU_AGE_MS);
    assert.deepEqual(told, [
      ['tfs', 1000],
      ['tfs', 1500],
    ]);
    await acks[1];
    const again = await datagramSizes(200);
    assert.deepEqual(new Set(again), new Set([1500 - 28]));
  });
});
