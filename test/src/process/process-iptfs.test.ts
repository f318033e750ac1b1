import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProcessConfig, processCapture } from '@espresso/control-plane/process';
import { createSaRuntime, iptfsPayloadBytes, type SaConfig } from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { IpProtocol, readU32 } from '@espresso/wire';
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
 * IP-TFS (RFC 9347) through `espresso process`: gateway A's capture of many small inner packets (and a
 * few large ones, which must be split across outer packets) goes out as fixed-size ESP packets that
 * aggregate them; gateway B, given A's output `--from outside`, gives back every inner packet byte for
 * byte and in order. With an outer packet missing and two swapped, B delivers exactly the inner packets
 * none of whose bytes were in the missing one, and counts the losses by reason.
 */

type Sa = SaConfig & { name: string };

/** Small UDP packets of both families, with a large one every 40th: 400 in all. */
const inner: Uint8Array[] = [];
for (let i = 0; i < 400; i++) {
  const version = i % 3 === 2 ? 6 : 4;
  const a = ADDRESSES[version];
  inner.push(
    innerPacket({
      version,
      src: a.innerA,
      dst: a.innerB,
      payloadBytes: i % 40 === 39 ? 1400 + 3 * i : 1 + ((i * 13) % 120),
      seed: i,
      ...(version === 4 ? { identification: i } : { flowLabel: i }),
    }),
  );
}
const innerBytes = inner.reduce((n, p) => n + p.length, 0);

interface Scenario {
  readonly name: string;
  readonly out: Sa;
  readonly in: Sa;
  readonly packetSize: number;
  readonly outerVersion: 4 | 6;
  readonly encap: boolean;
}

function scenario(
  name: string,
  algIndex: number,
  outerVersion: 4 | 6,
  encap: boolean,
  iptfs: NonNullable<SaConfig['iptfs']>,
): Scenario {
  const pair = saPair(algorithmCases(3)[algIndex]!, {
    spi: 0x7000 + algIndex,
    mode: 'iptfs',
    outerVersion,
    encap,
    extra: { iptfs },
  });
  return {
    name,
    out: { ...pair.out, name: 'tfs' },
    in: { ...pair.in, name: 'tfs' },
    packetSize: iptfs.packetSize!,
    outerVersion,
    encap,
  };
}

/** Protect both inner families through SA `tfs`, in mode iptfs. */
function policies(direction: 'in' | 'out') {
  return ([4, 6] as const).map((version) => {
    const a = ADDRESSES[version];
    const [local, remote] = direction === 'out' ? [a.innerA, a.innerB] : [a.innerB, a.innerA];
    return { direction, local, remote, action: 'protect', template: { mode: 'iptfs', sa: { name: 'tfs' } } };
  });
}

/** The AGGFRAG payload octets of each outer packet, less the 4-octet basic header: inner data per packet. */
function dataBytesPerPacket(s: Scenario): number {
  const { name: _name, ...config } = s.out;
  const sa = createSaRuntime(config);
  try {
    return iptfsPayloadBytes(sa, s.packetSize) - 4;
  } finally {
    sa.destroy();
  }
}

const work = new Workdir();
after(() => work.remove());

/** Runs the command; returns its statistics. */
function run(config: string, input: string, output: string, from: 'inside' | 'outside') {
  const stats = work.path(`${output.split('/').pop()}.stats.json`);
  const r = espresso([
    'process',
    '--config',
    config,
    '--in',
    input,
    '--out',
    output,
    '--from',
    from,
    '--stats',
    stats,
  ]);
  assert.equal(r.status, 0, r.stderr);
  return readStats(stats);
}

describe('IP-TFS through espresso process, gateway A to gateway B', () => {
  // On demand with an init delay longer than the capture: only full payloads leave until the input
  // ends, so the inner packets lie back to back in the outer packets' data.
  const packed = scenario('aes-gcm-256, IPv4 outer', 2, 4, false, {
    packetSize: 1400,
    initDelayUs: 10_000_000,
  });
  // Sent after every batch, padded to the size: every outer packet is as long as every other.
  const padded = scenario('chacha20-poly1305, IPv6 outer in UDP', 7, 6, true, {
    packetSize: 1280,
    padToSize: true,
    reorderWindow: 5,
  });
  const aConfig: Record<string, string> = {};
  const bConfig: Record<string, string> = {};
  let clear = '';

  before(async () => {
    clear = work.path('clear.pcap');
    await writeCapture(clear, inner, { spacingNs: 100_000 });
    for (const s of [packed, padded]) {
      aConfig[s.name] = work.writeJson(`a-${s.outerVersion}.json`, configDocument([s.out], policies('out')));
      bConfig[s.name] = work.writeJson(`b-${s.outerVersion}.json`, configDocument([s.in], policies('in')));
    }
  });

  it('A aggregates the inner packets into full outer packets of the configured size; B gives every one back', () => {
    const s = packed;
    const esp = work.path('packed.pcap');
    const a = run(aConfig[s.name]!, clear, esp, 'inside');
    const dataBytes = dataBytesPerPacket(s);
    const outer = readPackets(esp).packets;
    assert.equal(outer.length, Math.ceil(innerBytes / dataBytes), 'inner bytes back to back');
    assert.ok(outer.length * 5 < inner.length, 'many inner packets per outer packet');
    assert.deepEqual(
      outer.slice(0, -1).map((p) => p.length),
      outer.slice(0, -1).map(() => 1400),
      'pkt_size',
    );
    assert.ok(outer.at(-1)!.length <= 1400, 'the last one carries what was left, unpadded');
    for (const p of outer) {
      assert.equal(p[9], IpProtocol.esp);
      assert.equal(readU32(p, 20), Number(s.out.spi));
    }
    assert.equal(a.input.packets, inner.length);
    assert.equal(a.protected, outer.length);
    assert.equal(a.output.packets, outer.length);
    assert.equal(a.drops.total, 0, JSON.stringify(a.drops));
    assert.equal(a.sas[0]!.packets, outer.length);

    const back = work.path('packed-back.pcap');
    const b = run(bConfig[s.name]!, esp, back, 'outside');
    assert.deepEqual(readPackets(back).packets.map(hexOf), inner.map(hexOf));
    assert.equal(b.input.packets, outer.length);
    assert.equal(b.decrypted, inner.length);
    assert.equal(b.drops.total, 0, JSON.stringify(b.drops));
    assert.deepEqual(
      b.policies.map((p) => p.packets),
      [4, 6].map((v) => inner.filter((p) => p[0]! >>> 4 === v).length),
    );
  });

  it('a missing outer packet loses exactly the inner packets it carried bytes of, counted by reason; a swapped pair is reordered', async () => {
    const s = packed;
    const outer = readPackets(work.path('packed.pcap')).packets;
    const dataBytes = dataBytesPerPacket(s);
    // Lost: outer packet 3, and the last but one (the last is then held until the input ends, when the
    // gap is given up). Packets 6 and 7 arrive swapped, within the reorder window.
    const lost = [3, outer.length - 2];
    const lossy = outer.flatMap((p, i) => (lost.includes(i) ? [] : [p]));
    const six = lossy.indexOf(outer[6]!);
    [lossy[six], lossy[six + 1]] = [lossy[six + 1]!, lossy[six]!];
    const input = work.path('lossy.pcap');
    await writeCapture(input, lossy, { spacingNs: 1_000_000 });

    // The independent reckoning: outer packet k carries stream octets [k * dataBytes, (k + 1) * dataBytes).
    const survivors: Uint8Array[] = [];
    let at = 0;
    let cutAtEdges = 0;
    for (const p of inner) {
      const end = at + p.length;
      const hit = lost.some((k) => at < (k + 1) * dataBytes && end > k * dataBytes);
      if (!hit) survivors.push(p);
      at = end;
    }
    for (const k of lost) {
      const straddles = (edge: number) => {
        let from = 0;
        return inner.some((p) => {
          const hit = from < edge && from + p.length > edge;
          from += p.length;
          return hit;
        });
      };
      if (straddles(k * dataBytes) || straddles((k + 1) * dataBytes)) cutAtEdges++;
    }
    assert.equal(cutAtEdges, lost.length, 'each gap cuts an inner packet (what the count below relies on)');
    assert.ok(survivors.length <= inner.length - 4, 'the lost outer packets carried several inner ones');

    const back = work.path('lossy-back.pcap');
    const b = run(bConfig[s.name]!, input, back, 'outside');
    assert.deepEqual(readPackets(back).packets.map(hexOf), survivors.map(hexOf));
    assert.equal(b.decrypted, survivors.length);
    assert.deepEqual(b.drops.byReason, { iptfs_lost: lost.length }, 'one loss counted per gap');
    assert.deepEqual(b.sas[0]!.drops, { iptfs_lost: lost.length });
    assert.equal(b.sas[0]!.packets, lossy.length, 'every outer packet that came was accepted');
  });

  it('padded to the size and sent after each batch, in UDP over IPv6: every outer packet 1280 octets, every inner packet back', () => {
    const s = padded;
    const esp = work.path('padded.pcap');
    const a = run(aConfig[s.name]!, clear, esp, 'inside');
    const outer = readPackets(esp).packets;
    assert.deepEqual(new Set(outer.map((p) => p.length)), new Set([1280]));
    for (const p of outer) assert.equal(p[6], IpProtocol.udp);
    assert.ok(outer.length >= Math.ceil(innerBytes / dataBytesPerPacket(s)));
    assert.ok(outer.length * 3 < inner.length);
    assert.equal(a.protected, outer.length);

    const back = work.path('padded-back.pcap');
    const b = run(bConfig[s.name]!, esp, back, 'outside');
    assert.deepEqual(readPackets(back).packets.map(hexOf), inner.map(hexOf));
    assert.equal(b.drops.total, 0, JSON.stringify(b.drops));
  });

  for (const batchSize of [1, 7, 500]) {
    it(`the pipeline in-process, batches of ${batchSize}, gives the same round trip`, async () => {
      for (const s of [packed, padded]) {
        const esp = work.path(`esp-${batchSize}-${s.outerVersion}.pcapng`);
        const back = work.path(`back-${batchSize}-${s.outerVersion}.pcap`);
        const a = await processCapture({
          config: await loadProcessConfig(aConfig[s.name]!),
          from: 'inside',
          input: clear,
          output: esp,
          batchSize,
        });
        assert.equal(a.drops.total, 0, `${s.name}: ${JSON.stringify(a.drops)}`);
        const b = await processCapture({
          config: await loadProcessConfig(bConfig[s.name]!),
          from: 'outside',
          input: esp,
          output: back,
          batchSize,
        });
        assert.equal(b.decrypted, inner.length, s.name);
        assert.deepEqual(readPackets(back).packets.map(hexOf), inner.map(hexOf), s.name);
      }
    });
  }
});
