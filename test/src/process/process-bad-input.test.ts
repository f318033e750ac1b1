import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadProcessConfig, processCapture } from '@espresso/control-plane/process';
import { algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { LinkType, PcapWriter } from '@espresso/pcap';
import {
  createIpv4Header,
  IpProtocol,
  parseIpAddress,
  writeIpv4Header,
  writeUdpHeader,
} from '@espresso/wire';
import {
  configDocument,
  espresso,
  ethernetFrame,
  hexOf,
  readPackets,
  readStats,
  Workdir,
  writeCapture,
} from './process-harness.ts';

/**
 * Bad packets in a capture are dropped and counted by reason, and the packets around them go on: random
 * bytes, a runt ESP packet, a replay, a forged ICV (after which the genuine packet still gets in: the
 * window moved only for what verified), an unknown SPI, IKE and a NAT keepalive on port 4500, a record
 * that is not IP. A capture that cannot be read (missing, corrupt) ends the run with status 1, one line,
 * and leaves no output behind.
 */

const alg = algorithmCases(29)[0]!;
const pair = saPair(alg, { spi: 0x1001 });
const aConfig = configDocument(
  [{ ...pair.out, name: 'a-to-b' }],
  [
    {
      direction: 'out',
      local: '10.1.0.0/16',
      remote: '10.2.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel', sa: { name: 'a-to-b' } },
    },
  ],
);
const bConfig = configDocument([{ ...pair.in, name: 'a-to-b' }]);

const inner = [1, 2, 3, 4, 5, 6].map((seed) =>
  innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 20 + seed, seed }),
);

/** Bytes from a fixed xorshift generator; the version nibble forced to 1 so no parser can take them for IP. */
function randomBytes(n: number): Uint8Array {
  let x = 0x9e3779b9;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out[0] = 0x10 | (out[0]! & 0x0f);
  out[2] = n >> 8;
  out[3] = n & 0xff;
  return out;
}

function ipv4(protocol: number, payload: Uint8Array, src = '198.51.100.9', dst = '198.51.100.2'): Uint8Array {
  const f = createIpv4Header();
  f.totalLength = 20 + payload.length;
  f.ttl = 64;
  f.protocol = protocol;
  f.src = parseIpAddress(src)!.words[3]!;
  f.dst = parseIpAddress(dst)!.words[3]!;
  const out = new Uint8Array(20 + payload.length);
  writeIpv4Header(out, 0, f);
  out.set(payload, 20);
  return out;
}

/** UDP from 4500 to 4500 (checksum 0, which IPv4 allows) around `payload`. */
function natT(payload: number[]): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  writeUdpHeader(udp, 0, 4500, 4500, udp.length);
  udp.set(payload, 8);
  return ipv4(IpProtocol.udp, udp);
}

const work = new Workdir();
after(() => work.remove());
let esp: Uint8Array[] = [];
let bFile = '';

describe('espresso process with bad packets and bad captures', () => {
  before(async () => {
    const clear = work.path('clear.pcap');
    await writeCapture(clear, inner);
    const out = work.path('esp.pcap');
    const stats = await processCapture({
      config: await loadProcessConfig(work.writeJson('a.json', aConfig)),
      from: 'inside',
      input: clear,
      output: out,
    });
    assert.equal(stats.protected, inner.length);
    esp = readPackets(out).packets;
    bFile = work.writeJson('b.json', bConfig);
  });

  for (const batch of ['128', '3']) {
    it(`--from outside: each bad packet counted by its reason, the good ones decrypted in order (batch ${batch})`, async () => {
      const [e1, e2, e3, e4, e5, e6] = esp as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
      const forged = e3.slice();
      forged[forged.length - 1]! ^= 0x01;
      const unknownSpi = e4.slice();
      unknownSpi[23] = 0x77;
      const frames = [
        ethernetFrame(e1),
        ethernetFrame(randomBytes(64), 0x0800),
        ethernetFrame(e2),
        ethernetFrame(ipv4(IpProtocol.esp, Uint8Array.of(0, 0, 0x10, 1, 0, 0))),
        ethernetFrame(e2),
        ethernetFrame(forged),
        ethernetFrame(e3),
        ethernetFrame(unknownSpi),
        ethernetFrame(e4),
        ethernetFrame(natT([0, 0, 0, 0, 0x21, 0x20, 0x22, 0x08])),
        ethernetFrame(natT([0xff])),
        ethernetFrame(new Uint8Array(28), 0x0806),
        ethernetFrame(e6),
        ethernetFrame(e5),
      ];
      const input = work.path(`bad-${batch}.pcap`);
      const writer = new PcapWriter(input, { linkType: LinkType.ethernet });
      for (const [i, bytes] of frames.entries())
        await writer.write({ bytes, seconds: 1_700_000_000, nanoseconds: i });
      await writer.close();

      const out = work.path(`bad-${batch}-clear.pcap`);
      const statsFile = work.path(`bad-${batch}.json`);
      const r = espresso([
        'process',
        '--config',
        bFile,
        '--in',
        input,
        '--out',
        out,
        '--from',
        'outside',
        '--stats',
        statsFile,
        '--batch',
        batch,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const stats = readStats(statsFile);
      assert.deepEqual(stats.input, { records: 14, nonIp: 1, packets: 13, bytes: stats.input.bytes });
      assert.deepEqual(stats.drops.byReason, {
        bad_version: 1,
        runt: 1,
        replay: 1,
        icv_failure: 1,
        no_state: 1,
        nat_keepalive: 1,
        ike_marker: 1,
      });
      assert.equal(stats.drops.total, 7);
      assert.equal(stats.decrypted, 6);
      assert.deepEqual(stats.sas[0]!.drops, { replay: 1, icv_failure: 1 });
      assert.equal(stats.sas[0]!.packets, 6);
      assert.deepEqual(
        readPackets(out).packets.map(hexOf),
        [0, 1, 2, 3, 5, 4].map((i) => hexOf(inner[i]!)),
      );
      assert.match(r.stdout, /drop icv_failure: 1/);
    });
  }

  it('--from inside: unparsable packets are counted, the others protected', async () => {
    const input = work.path('inside-bad.pcap');
    await writeCapture(input, [inner[0]!, randomBytes(40), inner[1]!.subarray(0, 10), inner[2]!], {
      link: 'ethernet',
    });
    const out = work.path('inside-bad-esp.pcap');
    const statsFile = work.path('inside-bad.json');
    const r = espresso([
      'process',
      '--config',
      work.path('a.json'),
      '--in',
      input,
      '--out',
      out,
      '--from',
      'inside',
      '--stats',
      statsFile,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const stats = readStats(statsFile);
    assert.equal(stats.protected, 2);
    assert.deepEqual(stats.drops.byReason, { bad_version: 1, truncated: 1 });
    assert.equal(readPackets(out).packets.length, 2);
  });

  it('a corrupt capture: status 1, one line with the offset of the bad record, no output, the old one kept', async () => {
    const input = work.path('corrupt.pcap');
    await writeCapture(input, esp);
    // Cut the file inside the third record: 24-byte file header, 16-byte record headers.
    const third = 24 + 16 + esp[0]!.length + 16 + esp[1]!.length;
    truncateSync(input, third + 20);
    const out = work.path('corrupt-out.pcap');
    writeFileSync(out, 'an earlier run');
    const r = espresso([
      'process',
      '--config',
      bFile,
      '--in',
      input,
      '--out',
      out,
      '--from',
      'outside',
      '--stats',
      work.path('corrupt.json'),
    ]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    assert.match(
      r.stderr,
      new RegExp(`^espresso: ${input}: corrupt capture: .*\\(record at byte offset ${third}\\)`),
    );
    assert.match(r.stderr, /PCAP_TRUNCATED_RECORD/);
    assert.equal(readFileSync(out, 'utf8'), 'an earlier run');
    assert.equal(work.exists('corrupt-out.pcap.partial'), false);
    assert.equal(work.exists('corrupt.json'), false);
  });

  it('a missing or unreadable capture, or an output that cannot be written: status 1, one line, nothing left', () => {
    const missing = work.path('none.pcap');
    let r = espresso([
      'process',
      '--config',
      bFile,
      '--in',
      missing,
      '--out',
      work.path('o.pcap'),
      '--from',
      'outside',
    ]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `espresso: ${missing}: cannot read the capture: no such file\n`);
    assert.equal(work.exists('o.pcap'), false);

    const notCapture = work.writeJson('not-a-capture.pcap', { hello: 1 });
    r = espresso([
      'process',
      '--config',
      bFile,
      '--in',
      notCapture,
      '--out',
      work.path('o.pcap'),
      '--from',
      'outside',
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /corrupt capture: .*byte offset 0\).*PCAP_BAD_MAGIC/);
    assert.equal(work.exists('o.pcap'), false);
    assert.equal(work.exists('o.pcap.partial'), false);

    const nowhere = work.path('no-such-dir/o.pcap');
    r = espresso([
      'process',
      '--config',
      bFile,
      '--in',
      work.path('esp.pcap'),
      '--out',
      nowhere,
      '--from',
      'outside',
    ]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `espresso: ${nowhere}: cannot write the capture: no such file\n`);
  });
});
