import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createSaRuntime, iptfsPayloadBytes, type SaConfig } from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { IpProtocol, readU32 } from '@espresso/wire';
import { configDocument, hexOf, readPackets, readStats, Workdir, writeCapture } from './process-harness.ts';

/**
 * IP-TFS SAs through `espresso process --workers 2`: the pool's workers consume the packets the SA's
 * mode takes in and send packets of their own (outer packets packed on the SA owner, inner packets out
 * of reassembly), which the run accounts for and writes, and at the end of the input it drains the
 * modes. Gateway A's outer packets hold every inner byte back to back in full payloads (each inner
 * packet is a flow of its own, steered by hash to either worker and handed to the SA owner, so they
 * need not lie in input order); gateway B on the pool gives exactly what the single-threaded `espresso
 * process` gives for the same input, in the same order, with and without missing outer packets (the
 * gap held at the end given up by the drain).
 */

type Sa = SaConfig & { name: string };

const mainTs = new URL('../../../control-plane/src/cli/main.ts', import.meta.url).pathname;

/** Small UDP packets of both families, a large one every 40th. */
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

// An init delay longer than the capture: only full payloads leave until the input ends (the drain).
const pair = saPair(algorithmCases(3)[2]!, {
  spi: 0x7302,
  mode: 'iptfs',
  extra: { iptfs: { packetSize: 1400, initDelayUs: 10_000_000 } },
});
const out: Sa = { ...pair.out, name: 'tfs' };
const inb: Sa = { ...pair.in, name: 'tfs' };

function policies(direction: 'in' | 'out') {
  return ([4, 6] as const).map((version) => {
    const a = ADDRESSES[version];
    const [local, remote] = direction === 'out' ? [a.innerA, a.innerB] : [a.innerB, a.innerA];
    return { direction, local, remote, action: 'protect', template: { mode: 'iptfs', sa: { name: 'tfs' } } };
  });
}

function dataBytesPerPacket(): number {
  const { name: _name, ...config } = out;
  const sa = createSaRuntime(config);
  try {
    return iptfsPayloadBytes(sa, 1400) - 4;
  } finally {
    sa.destroy();
  }
}

const work = new Workdir();
after(() => work.remove());

/** Runs `espresso process`, on `workers` threads or in-process (null); a run that hangs fails. */
function run(
  config: string,
  input: string,
  output: string,
  from: 'inside' | 'outside',
  workers: number | null,
) {
  const stats = work.path(`${output.split('/').pop()}.stats.json`);
  const args = ['process', '--config', config, '--in', input, '--out', output, '--from', from];
  if (workers !== null) args.push('--workers', String(workers));
  const r = spawnSync(process.execPath, [mainTs, ...args, '--stats', stats], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.signal, null, `espresso process ${workers === null ? '' : '--workers '}ran past 60 s`);
  assert.equal(r.status, 0, r.stderr);
  return readStats(stats);
}

/** The packets as a set (the pool steers flows to two workers, so A's stream is in another order). */
const sorted = (packets: readonly Uint8Array[]) => packets.map(hexOf).sort();

describe('IP-TFS through espresso process --workers 2', () => {
  let aConfig = '';
  let bConfig = '';
  let clear = '';
  let esp = '';

  before(async () => {
    clear = work.path('clear.pcap');
    await writeCapture(clear, inner, { spacingNs: 100_000 });
    aConfig = work.writeJson('a.json', configDocument([out], policies('out')));
    bConfig = work.writeJson('b.json', configDocument([inb], policies('in')));
    esp = work.path('esp.pcap');
  });

  it('A on the pool: every inner byte in full outer packets, the last sent by the drain at the end', () => {
    const a = run(aConfig, clear, esp, 'inside', 2);
    const outer = readPackets(esp).packets;
    assert.equal(outer.length, Math.ceil(innerBytes / dataBytesPerPacket()), 'inner bytes back to back');
    for (const p of outer.slice(0, -1)) assert.equal(p.length, 1400, 'pkt_size');
    assert.ok(outer.at(-1)!.length < 1400, 'the last one, drained at the end, carries what was left');
    for (const p of outer) {
      assert.equal(p[9], IpProtocol.esp);
      assert.equal(readU32(p, 20), 0x7302);
    }
    assert.deepEqual(
      outer.map((p) => readU32(p, 24)),
      outer.map((_, i) => i + 1),
      'written in sequence order',
    );
    assert.equal(a.input.packets, inner.length);
    assert.equal(a.output.packets, outer.length);
    assert.equal(a.protected, outer.length);
    assert.equal(a.drops.total, 0, JSON.stringify(a.drops));
    assert.equal(a.sas[0]!.packets, outer.length);
  });

  it('B on the pool gives every inner packet back, as the single-threaded run does, in the same order', () => {
    const pooled = work.path('back-pool.pcap');
    const single = work.path('back-single.pcap');
    const b = run(bConfig, esp, pooled, 'outside', 2);
    run(bConfig, esp, single, 'outside', null);
    const got = readPackets(pooled).packets;
    assert.deepEqual(got.map(hexOf), readPackets(single).packets.map(hexOf));
    assert.deepEqual(sorted(got), sorted(inner));
    assert.equal(b.decrypted, inner.length);
    assert.equal(b.output.packets, inner.length);
    assert.equal(b.drops.total, 0, JSON.stringify(b.drops));
  });

  it('an outer packet missing: B on the pool delivers and counts what the single-threaded run does', async () => {
    const outer = readPackets(esp).packets;
    // A's stream, in order: what B gives for the whole capture. Outer packet k carries stream octets
    // [k * dataBytes, (k + 1) * dataBytes).
    const stream = readPackets(work.path('back-single.pcap')).packets;
    const dataBytes = dataBytesPerPacket();
    const ends: number[] = [];
    let at = 0;
    for (const p of stream) {
      at += p.length;
      ends.push(at);
    }
    // The last gap as late as leaves whole inner packets behind it: they are held until the drain.
    const behind = (k: number) => stream.filter((p, i) => ends[i]! - p.length >= (k + 1) * dataBytes);
    let k = outer.length - 2;
    while (behind(k).length === 0) k--;
    assert.ok(k > 5, 'a gap near the end with whole inner packets behind it');
    const lost = [3, k];
    const lossy = outer.filter((_, i) => !lost.includes(i));
    const input = work.path('lossy.pcap');
    await writeCapture(input, lossy, { spacingNs: 1_000_000 });
    const pooled = work.path('lossy-pool.pcap');
    const single = work.path('lossy-single.pcap');
    const b = run(bConfig, input, pooled, 'outside', 2);
    const s = run(bConfig, input, single, 'outside', null);
    const got = readPackets(pooled).packets;
    assert.ok(got.length < inner.length, 'the missing packets carried inner packets');
    assert.deepEqual(got.map(hexOf), readPackets(single).packets.map(hexOf));
    const delivered = new Set(got.map(hexOf));
    for (const p of behind(k))
      assert.ok(delivered.has(hexOf(p)), 'what was held behind the last gap was delivered');
    assert.deepEqual(b.drops.byReason, { iptfs_lost: lost.length });
    assert.deepEqual(b.drops, s.drops);
    assert.equal(b.decrypted, got.length);
  });
});
