import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProcessConfig, processCapture } from '@espresso/control-plane/process';
import type { SaConfig } from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { IpProtocol, readU16, readU32 } from '@espresso/wire';
import {
  configDocument,
  espresso,
  hexOf,
  readPackets,
  readStats,
  Workdir,
  writeCapture,
} from './process-harness.ts';

/**
 * Gateway A protects with `espresso process --from inside`, gateway B decrypts A's output with
 * `espresso process --from outside`; A's outbound SA is B's inbound SA. One SA per algorithm x mode x
 * inner/outer family x UDP encapsulation (some with ESN across 2^32), all in one configuration pair, each
 * SA's traffic picked by a policy on its UDP source port, both ways (B checks the inbound policy). The
 * inner packets must come back byte for byte, in order, through the command and through its pipeline
 * called in-process with several batch sizes.
 */

type Sa = SaConfig & { name: string };

interface Combo {
  readonly name: string;
  readonly out: Sa;
  readonly in: Sa;
  readonly port: number;
  readonly encap: boolean;
  readonly outerVersion: 4 | 6;
}

const combos: Combo[] = [];
const aPolicies: unknown[] = [];
const bPolicies: unknown[] = [];
const small: Uint8Array[] = [];
const large: Uint8Array[] = [];
const smallBack: Uint8Array[] = [];
const largeBack: Uint8Array[] = [];

let n = 0;
for (const alg of algorithmCases(5)) {
  for (const mode of ['tunnel', 'transport', 'beet'] as const) {
    for (const outerVersion of [4, 6] as const) {
      for (const innerVersion of mode === 'transport' ? [outerVersion] : ([4, 6] as const)) {
        for (const encap of [false, true]) {
          n++;
          const esn = n % 5 === 0;
          const pair = saPair(alg, {
            spi: 0x10000 + n,
            mode,
            outerVersion,
            innerVersion,
            encap,
            esn,
            ...(esn ? { initialSequence: 2n ** 32n - 1n } : {}),
          });
          const name = `${alg.name.replace('+', '.')}-${mode}-${innerVersion}in${outerVersion}${encap ? '-udp' : ''}${esn ? '-esn' : ''}`;
          const a = ADDRESSES[innerVersion];
          const src = mode === 'transport' ? a.a : a.innerA;
          const dst = mode === 'transport' ? a.b : a.innerB;
          const port = 40000 + n;
          combos.push({
            name,
            out: { ...pair.out, name },
            in: { ...pair.in, name },
            port,
            encap,
            outerVersion,
          });
          const selector = { protocol: 'udp', action: 'protect', template: { mode, sa: { name } } };
          aPolicies.push({ direction: 'out', local: src, remote: dst, localPorts: port, ...selector });
          bPolicies.push({ direction: 'in', local: dst, remote: src, remotePorts: port, ...selector });
          const packet = (payloadBytes: number, delivered: boolean) =>
            innerPacket({
              version: innerVersion,
              src,
              dst,
              payloadBytes,
              seed: n,
              // BEET rebuilds an IPv4 header from an IPv6 outer one: no identification, DF set.
              ...(delivered && mode === 'beet' && innerVersion === 4 && outerVersion === 6
                ? { identification: 0, dontFragment: true }
                : {}),
            });
          small.push(packet(1 + (n % 7), false));
          large.push(packet(700 + n, false));
          smallBack.push(packet(1 + (n % 7), true));
          largeBack.push(packet(700 + n, true));
        }
      }
    }
  }
}
const inner = [...small, ...large];
/** What B must deliver: `inner`, but for what BEET cannot carry. */
const delivered = [...smallBack, ...largeBack];

const work = new Workdir();
after(() => work.remove());
let aConfig = '';
let bConfig = '';
let clear = '';

describe('round trip through espresso process, gateway A to gateway B', () => {
  before(async () => {
    aConfig = work.writeJson(
      'a.json',
      configDocument(
        combos.map((c) => c.out),
        aPolicies,
      ),
    );
    bConfig = work.writeJson(
      'b.json',
      configDocument(
        combos.map((c) => c.in),
        bPolicies,
      ),
    );
    clear = work.path('clear.pcapng');
    await writeCapture(clear, inner, { link: 'ethernet', format: 'pcapng' });
  });

  it(`covers every algorithm, mode, family pair and encapsulation (${combos.length} SAs each way)`, () => {
    assert.equal(combos.length, 13 * (4 + 2 + 4) * 2);
    assert.ok(combos.some((c) => c.name.endsWith('-esn')));
  });

  it('the command protects at A and decrypts at B: the inner packets come back byte for byte, in order', () => {
    const esp = work.path('esp.pcap');
    const aStats = work.path('a-stats.json');
    const r1 = espresso([
      'process',
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
    assert.equal(a.drops.total, 0);
    assert.ok(a.sas.every((s) => s.packets === 2));

    const sent = readPackets(esp).packets;
    assert.equal(sent.length, inner.length);
    sent.forEach((packet, i) => {
      const c = combos[i % combos.length]!;
      const v6 = packet[0]! >>> 4 === 6;
      assert.equal(v6, c.outerVersion === 6, `${c.name}: outer family`);
      const protocol = v6 ? packet[6]! : packet[9]!;
      const l4 = v6 ? 40 : 20;
      assert.equal(protocol, c.encap ? IpProtocol.udp : IpProtocol.esp, `${c.name}: outer protocol`);
      if (c.encap) assert.equal(readU16(packet, l4 + 2), 4501, `${c.name}: ESP-in-UDP port`);
      assert.equal(readU32(packet, l4 + (c.encap ? 8 : 0)), Number(c.out.spi), `${c.name}: SPI`);
    });

    const back = work.path('back.pcap');
    const bStats = work.path('b-stats.json');
    const r2 = espresso([
      'process',
      '--config',
      bConfig,
      '--in',
      esp,
      '--out',
      back,
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
      combos.map(() => 2),
    );
    const { packets } = readPackets(back);
    const failures = packets.flatMap((p, i) =>
      hexOf(p) === hexOf(delivered[i]!) ? [] : [`${combos[i % combos.length]!.name} #${i}`],
    );
    assert.deepEqual(failures, []);
    assert.equal(packets.length, inner.length);
  });

  for (const batchSize of [1, 5, 256]) {
    it(`the pipeline in-process, batches of ${batchSize}, gives the same round trip`, async () => {
      const esp = work.path(`esp-${batchSize}.pcapng`);
      const back = work.path(`back-${batchSize}.pcap`);
      const a = await processCapture({
        config: await loadProcessConfig(aConfig),
        from: 'inside',
        input: clear,
        output: esp,
        batchSize,
      });
      assert.equal(a.protected, inner.length);
      assert.equal(a.output.format, 'pcapng');
      const b = await processCapture({
        config: await loadProcessConfig(bConfig),
        from: 'outside',
        input: esp,
        output: back,
        batchSize,
      });
      assert.equal(b.decrypted, inner.length);
      assert.deepEqual(readPackets(back).packets.map(hexOf), delivered.map(hexOf));
    });
  }
});
