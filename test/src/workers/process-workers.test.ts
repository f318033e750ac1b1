import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { readU32 } from '@espresso/wire';
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
 * `espresso process --workers 2` on both gateways: A protects, B decrypts A's output, over one SA per
 * algorithm x mode x family pair x UDP encapsulation (some with ESN across 2^32), as the single-thread
 * round trip does. The inner packets must come back byte for byte and in input order, although the
 * packets were spread over two worker threads by flow hash (A) and SPI (B); the counters must agree.
 * A second run with several packets per SA checks that each SA's sequence numbers keep going up.
 */

type Sa = SaConfig & { name: string };
const outs: Sa[] = [];
const ins: Sa[] = [];
const aPolicies: unknown[] = [];
const bPolicies: unknown[] = [];
const inner: Uint8Array[] = [];
const back: Uint8Array[] = [];

let n = 0;
for (const alg of algorithmCases(11)) {
  for (const mode of ['tunnel', 'transport', 'beet'] as const) {
    for (const outerVersion of [4, 6] as const) {
      for (const innerVersion of mode === 'transport' ? [outerVersion] : ([4, 6] as const)) {
        for (const encap of [false, true]) {
          n++;
          const esn = n % 5 === 0;
          const pair = saPair(alg, {
            spi: 0x20000 + n,
            mode,
            outerVersion,
            innerVersion,
            encap,
            esn,
            ...(esn ? { initialSequence: 2n ** 32n - 2n } : {}),
          });
          const name = `sa-${n}`;
          outs.push({ ...pair.out, name });
          ins.push({ ...pair.in, name });
          const a = ADDRESSES[innerVersion];
          const src = mode === 'transport' ? a.a : a.innerA;
          const dst = mode === 'transport' ? a.b : a.innerB;
          const port = 40000 + n;
          const selector = { protocol: 'udp', action: 'protect', template: { mode, sa: { name } } };
          aPolicies.push({ direction: 'out', local: src, remote: dst, localPorts: port, ...selector });
          bPolicies.push({ direction: 'in', local: dst, remote: src, remotePorts: port, ...selector });
          for (const [i, payloadBytes] of [3, 500, 17].entries()) {
            const packet = (delivered: boolean) =>
              innerPacket({
                version: innerVersion,
                src,
                dst,
                payloadBytes: payloadBytes + i,
                seed: n,
                ...(delivered && mode === 'beet' && innerVersion === 4 && outerVersion === 6
                  ? { identification: 0, dontFragment: true }
                  : {}),
              });
            inner.push(packet(false));
            back.push(packet(true));
          }
        }
      }
    }
  }
}

const work = new Workdir();
after(() => work.remove());

describe('espresso process --workers 2: gateway A to gateway B, both on the worker pool', () => {
  let aConfig = '';
  let bConfig = '';
  let clear = '';
  before(async () => {
    aConfig = work.writeJson('a.json', configDocument(outs, aPolicies));
    bConfig = work.writeJson('b.json', configDocument(ins, bPolicies));
    clear = work.path('clear.pcap');
    await writeCapture(clear, inner, { link: 'ethernet' });
  });

  it('protects at A and decrypts at B: byte for byte, in input order, each SA numbering upward', () => {
    const esp = work.path('esp.pcap');
    const aStats = work.path('a.json.stats');
    const r1 = espresso([
      'process',
      '--workers',
      '2',
      '--config',
      aConfig,
      '--in',
      clear,
      '--out',
      esp,
      '--from',
      'inside',
      '--stats',
      aStats,
    ]);
    assert.equal(r1.status, 0, r1.stderr);
    const a = readStats(aStats);
    assert.equal(a.protected, inner.length);
    assert.equal(a.drops.total, 0, JSON.stringify(a.drops));
    assert.ok(a.sas.every((s) => s.packets === 3));

    const sent = readPackets(esp).packets;
    assert.equal(sent.length, inner.length);
    const lastSeq = new Map<number, number>();
    for (const [i, packet] of sent.entries()) {
      const sa = outs[Math.floor(i / 3)]!;
      const v6 = packet[0]! >>> 4 === 6;
      const l4 = v6 ? 40 : 20;
      const espAt = l4 + (sa.encap === undefined ? 0 : 8);
      assert.equal(readU32(packet, espAt), Number(sa.spi), `${sa.name}: packet ${i} in input order`);
      const seq = readU32(packet, espAt + 4);
      const previous = lastSeq.get(Number(sa.spi));
      if (previous !== undefined) assert.equal(seq, (previous + 1) >>> 0, `${sa.name}: sequence`);
      lastSeq.set(Number(sa.spi), seq);
    }

    const out = work.path('back.pcap');
    const bStats = work.path('b.json.stats');
    const r2 = espresso([
      'process',
      '--workers',
      '2',
      '--config',
      bConfig,
      '--in',
      esp,
      '--out',
      out,
      '--from',
      'outside',
      '--stats',
      bStats,
    ]);
    assert.equal(r2.status, 0, r2.stderr);
    const b = readStats(bStats);
    assert.equal(b.decrypted, inner.length);
    assert.equal(b.drops.total, 0, JSON.stringify(b.drops));
    assert.deepEqual(
      b.policies.map((p) => p.packets),
      ins.map(() => 3),
    );
    const { packets } = readPackets(out);
    assert.equal(packets.length, back.length);
    const failures = packets.flatMap((p, i) => (hexOf(p) === hexOf(back[i]!) ? [] : [`#${i}`]));
    assert.deepEqual(failures, []);
  });

  it("applies an SA's hard packet limit across the workers: the packets past it are dropped, the event listed", async () => {
    const sa = { ...outs[0]!, lifetime: { hard: { packets: 5 } } };
    const config = work.writeJson('limited.json', configDocument([sa], [aPolicies[0]]));
    const input = work.path('limited.pcap');
    await writeCapture(
      input,
      Array.from({ length: 8 }, () => inner[0]!),
    );
    const stats = work.path('limited.stats');
    const r = espresso([
      'process',
      '--workers',
      '2',
      '--config',
      config,
      '--in',
      input,
      '--out',
      work.path('limited-out.pcap'),
      '--from',
      'inside',
      '--stats',
      stats,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const s = readStats(stats) as ReturnType<typeof readStats> & { events: { type: string; sa: string }[] };
    assert.equal(s.protected, 5);
    assert.deepEqual(s.drops.byReason, { state_expired: 3 });
    assert.deepEqual(
      s.events.map((e) => [e.type, e.sa]),
      [['hard-expire', sa.name]],
    );
  });

  it('refuses a bad worker count as a usage error', () => {
    const r = espresso([
      'process',
      '--workers',
      '0',
      '--config',
      aConfig,
      '--in',
      clear,
      '--out',
      work.path('x.pcap'),
      '--from',
      'inside',
    ]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--workers must be an integer/);
  });
});
