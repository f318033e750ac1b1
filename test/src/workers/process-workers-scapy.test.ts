import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { ADDRESSES, type AlgorithmCase, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { ScapyPeer, type ScapySa, scapyAlgorithm } from '../interop/scapy-peer.ts';
import {
  configDocument,
  espresso,
  hexOf,
  readPackets,
  readStats,
  Workdir,
  writeCapture,
} from '../process/process-harness.ts';

/**
 * scapy, an independent ESP implementation, against `espresso process --workers 2`: scapy decrypts
 * what the pool protected, and the pool decrypts what scapy encrypted and wrote, for every algorithm,
 * tunnel and transport, IPv4 and IPv6, with and without UDP encapsulation and ESN. Each SA lives on one
 * of the two workers; the packets are spread over both, and come out in input order.
 */

type Sa = SaConfig & { name: string };

interface Case {
  readonly name: string;
  readonly alg: AlgorithmCase;
  readonly mode: 'tunnel' | 'transport';
  readonly outerVersion: 4 | 6;
  readonly encap: boolean;
  readonly esn: boolean;
  readonly first: bigint;
  readonly out: Sa;
  readonly in: Sa;
  readonly inner: Uint8Array[];
  readonly policy: Record<string, unknown>;
}

function cases(seed: number, spiBase: number): Case[] {
  const list: Case[] = [];
  let n = 0;
  for (const alg of algorithmCases(seed)) {
    for (const mode of ['tunnel', 'transport'] as const) {
      for (const outerVersion of [4, 6] as const) {
        for (const encap of [false, true]) {
          n++;
          const esn = n % 3 === 0;
          const first = esn ? 2n ** 32n - 1n : 1n;
          const pair = saPair(alg, {
            spi: spiBase + n,
            mode,
            outerVersion,
            encap,
            esn,
            initialSequence: first,
          });
          const name = `w-${n}`;
          const a = ADDRESSES[outerVersion];
          const src = mode === 'transport' ? a.a : a.innerA;
          const dst = mode === 'transport' ? a.b : a.innerB;
          list.push({
            name,
            alg,
            mode,
            outerVersion,
            encap,
            esn,
            first,
            out: { ...pair.out, name },
            in: { ...pair.in, name },
            inner: [5, 700].map((payloadBytes) =>
              innerPacket({ version: outerVersion, src, dst, payloadBytes, seed: n }),
            ),
            policy: {
              direction: 'out',
              local: src,
              remote: dst,
              protocol: 'udp',
              localPorts: 40000 + n,
              action: 'protect',
              template: { mode, sa: { name } },
            },
          });
        }
      }
    }
  }
  return list;
}

function scapySa(c: Case): ScapySa {
  const outer = ADDRESSES[c.outerVersion];
  return {
    spi: Number(c.out.spi),
    ...scapyAlgorithm(c.alg),
    mode: c.mode,
    tunnel: c.mode === 'tunnel' ? { version: c.outerVersion, src: outer.a, dst: outer.b } : null,
    natT: c.encap ? { sport: 4500, dport: 4501 } : null,
    esn: c.esn,
  };
}

const work = new Workdir();
after(() => work.remove());

describe('espresso process --workers 2 against scapy', () => {
  it('scapy decrypts what the pool protected, byte for byte, each SA numbering from its first', async () => {
    const list = cases(23, 0x90000);
    const clear = work.path('clear.pcap');
    await writeCapture(clear, [...list.map((c) => c.inner[0]!), ...list.map((c) => c.inner[1]!)]);
    const config = work.writeJson(
      'a.json',
      configDocument(
        list.map((c) => c.out),
        list.map((c) => c.policy),
      ),
    );
    const esp = work.path('esp.pcap');
    const r = espresso([
      'process',
      '--workers',
      '2',
      '--config',
      config,
      '--in',
      clear,
      '--out',
      esp,
      '--from',
      'inside',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const sent = readPackets(esp).packets;
    assert.equal(sent.length, 2 * list.length);
    const peer = new ScapyPeer();
    try {
      const failures: string[] = [];
      for (const [i, c] of list.entries()) {
        const got = await peer.decrypt(
          scapySa(c),
          [sent[i]!, sent[i + list.length]!],
          [c.first, c.first + 1n],
        );
        if (got.map(hexOf).join() !== c.inner.map(hexOf).join()) failures.push(c.name);
      }
      assert.deepEqual(failures, []);
    } finally {
      peer.close();
    }
  });

  it('the pool decrypts what scapy encrypted and wrote, byte for byte, in order', () => {
    const list = cases(29, 0xa0000);
    const capture = work.path('scapy.pcap');
    const items = list.map((c) => ({ sa: scapySa(c), packets: c.inner.map(hexOf), seq: Number(c.first) }));
    const script = new URL('../process/scapy-write-capture.py', import.meta.url).pathname;
    const written = spawnSync('/usr/bin/python3', [script], {
      input: JSON.stringify({ out: capture, link: 'ether', items }),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.equal(written.status, 0, written.stderr);
    const config = work.writeJson('b.json', configDocument(list.map((c) => c.in)));
    const clear = work.path('back.pcapng');
    const stats = work.path('b-stats.json');
    const r = espresso([
      'process',
      '--workers',
      '2',
      '--config',
      config,
      '--in',
      capture,
      '--out',
      clear,
      '--from',
      'outside',
      '--stats',
      stats,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readStats(stats).drops.total, 0, JSON.stringify(readStats(stats).drops));
    assert.deepEqual(
      readPackets(clear).packets.map(hexOf),
      list.flatMap((c) => c.inner.map(hexOf)),
    );
  });
});
