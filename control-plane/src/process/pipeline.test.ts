import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { LinkType, PcapWriter, parseCapture } from '@espresso/pcap';
import { parseConfigText } from '../config/config-file.ts';
import { processCapture } from './pipeline.ts';
import { checkProcessConfig } from './process-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'espresso-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const alg = algorithmCases(31)[7]!; // chacha20-poly1305
const packet = (seed: number) =>
  innerPacket({ version: 6, src: 'fd00:1::1', dst: 'fd00:2::2', payloadBytes: 30, seed });

async function capture(name: string, times: readonly number[]): Promise<string> {
  const path = join(dir, name);
  const writer = new PcapWriter(path, { linkType: LinkType.raw });
  for (const [i, t] of times.entries()) {
    await writer.write({
      bytes: packet(i),
      seconds: 1_700_000_000 + Math.floor(t),
      nanoseconds: (t % 1) * 1e9,
    });
  }
  await writer.close();
  return path;
}

async function config(lifetime: unknown) {
  const sa = { ...saPair(alg, { spi: 0x5001, outerVersion: 6 }).out, name: 'out', lifetime };
  const doc = {
    sas: [sa],
    spd: {
      policies: [
        {
          direction: 'out',
          local: 'fd00:1::/64',
          remote: 'fd00:2::/64',
          action: 'protect',
          template: { mode: 'tunnel', sa: { name: 'out' } },
        },
      ],
    },
  };
  return checkProcessConfig(parseConfigText(JSON.stringify(doc), 'c.json'), 'c.json');
}

describe('processCapture', () => {
  it('counts packet lifetimes: the soft limit raises an event, past the hard one packets are dropped', async () => {
    const input = await capture('five.pcap', [0, 0.1, 0.2, 0.3, 0.4]);
    const stats = await processCapture({
      config: await config({ soft: { packets: 2 }, hard: { packets: 3 } }),
      from: 'inside',
      input,
      output: join(dir, 'five-esp.pcap'),
      batchSize: 2,
    });
    assert.equal(stats.protected, 3);
    assert.deepEqual(stats.drops.byReason, { state_expired: 2 });
    assert.deepEqual(
      stats.events.map((e) => [e.type, e.sa, e.limit]),
      [
        ['soft-expire', 'out', 'packets'],
        ['hard-expire', 'out', 'packets'],
      ],
    );
  });

  it('runs time lifetimes on capture time, counted from the first packet', async () => {
    const input = await capture('slow.pcap', [0, 1, 5, 6]);
    const stats = await processCapture({
      config: await config({ hard: { addSeconds: 4 } }),
      from: 'inside',
      input,
      output: join(dir, 'slow-esp.pcapng'),
      batchSize: 1,
    });
    assert.equal(stats.protected, 2);
    assert.deepEqual(stats.drops.byReason, { state_expired: 2 });
    assert.equal(stats.events[0]?.type, 'hard-expire');
    assert.equal(stats.events[0]?.at, 5);
    const written = parseCapture(new Uint8Array(readFileSync(join(dir, 'slow-esp.pcapng'))));
    assert.equal(written.format, 'pcapng');
    assert.deepEqual(
      written.records.map((r) => r.seconds - 1_700_000_000),
      [0, 1],
    );
  });

  it('takes the IP packet of any link type the reader locates (Linux SLL here) and writes raw IP', async () => {
    const input = join(dir, 'sll.pcap');
    const writer = new PcapWriter(input, { linkType: LinkType.linuxSll });
    for (let i = 0; i < 3; i++) {
      const ip = packet(i);
      const frame = new Uint8Array(16 + ip.length);
      frame[14] = 0x86; // protocol type: IPv6
      frame[15] = 0xdd;
      frame.set(ip, 16);
      await writer.write({ bytes: frame, seconds: 1_700_000_000, nanoseconds: i });
    }
    await writer.close();
    const output = join(dir, 'sll-esp.pcap');
    const stats = await processCapture({ config: await config(undefined), from: 'inside', input, output });
    assert.equal(stats.protected, 3);
    const written = parseCapture(new Uint8Array(readFileSync(output)));
    assert.equal(written.interfaces[0]?.linkType, LinkType.raw);
    assert.deepEqual(
      written.records.map((r) => r.data[6]),
      [50, 50, 50],
    );
  });

  it('removes its partial output when the capture turns out corrupt, and keeps the keys out of the error', async () => {
    const input = join(dir, 'corrupt.pcap');
    const good = readFileSync(await capture('good.pcap', [0, 1, 2]));
    writeFileSync(input, good.subarray(0, good.length - 5));
    const output = join(dir, 'corrupt-out.pcap');
    await assert.rejects(
      processCapture({ config: await config(undefined), from: 'inside', input, output }),
      (e: Error) => {
        assert.equal(e.name, 'CaptureInputError');
        assert.match(e.message, /corrupt capture: .*PCAP_TRUNCATED_RECORD/);
        assert.ok(!e.message.includes(alg.encryption.key.slice(0, 16)));
        return true;
      },
    );
    assert.throws(() => readFileSync(output), /ENOENT/);
    assert.throws(() => readFileSync(`${output}.partial`), /ENOENT/);
  });
});
