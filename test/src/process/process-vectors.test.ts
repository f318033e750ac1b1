import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { loadProcessConfig, processCapture } from '@espresso/control-plane/process';
import type { SaConfig } from '@espresso/esp';
import { createIpv4Header, IpProtocol, parseIpAddress, readU32, writeIpv4Header } from '@espresso/wire';
import { ScapyPeer, type ScapySa } from '../interop/scapy-peer.ts';
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
 * The published vectors that are whole ESP packets (RFC 3602 §4 cases 5-8, RFC 7634 Appendix A) through
 * `espresso process`:
 * - outside: the published ESP packets, in a capture, are decrypted by the command to the original
 *   packets, byte for byte;
 * - inside: the datapath of the command (its pipeline, called in-process with the vector's IV, which the
 *   command itself never takes from outside: it draws CBC IVs at random and uses the sequence number for
 *   the AEADs) turns the original packet into the published ESP packet, byte for byte;
 * - inside, through the command: what it sends with its own IVs is decrypted by scapy and by the command
 *   again to the original packets.
 */

const vectorsDir =
  process.env.ESPRESSO_VECTORS_DIR ?? new URL('../../../../shared/vectors/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: published JSON, read field by field.
function cases(file: string): any[] {
  return JSON.parse(readFileSync(`${vectorsDir.replace(/\/$/, '')}/${file}`, 'utf8')).cases;
}

const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

function ipv4Around(payload: Uint8Array, src: string, dst: string, id: number, protocol: number): Uint8Array {
  const f = createIpv4Header();
  f.totalLength = 20 + payload.length;
  f.identification = id;
  f.ttl = 64;
  f.protocol = protocol;
  f.src = parseIpAddress(src)!.words[3]!;
  f.dst = parseIpAddress(dst)!.words[3]!;
  const out = new Uint8Array(20 + payload.length);
  writeIpv4Header(out, 0, f);
  out.set(payload, 20);
  return out;
}

interface Vector {
  readonly id: string;
  /** The outbound SA at the sender (direction added per use). */
  readonly sa: Omit<SaConfig, 'direction'>;
  readonly saName: string;
  readonly iv: Uint8Array;
  readonly seq: number;
  readonly inner: Uint8Array;
  readonly innerSrc: string;
  readonly innerDst: string;
  /** The published ESP packet, SPI to the end. */
  readonly esp: Uint8Array;
  /** The whole outer packet: as published, else the IPv4 header RFC 4303 implies around `esp`. */
  readonly wire: Uint8Array;
  readonly published: boolean;
  readonly identification: number;
}

function vectors(): Vector[] {
  const cbc = cases('rfc3602.json')
    .filter((c) => c.kind === 'esp-packet')
    .map((c): Vector => {
      const transport = c.mode === 'transport';
      const dst = transport ? '192.168.123.100' : '192.168.123.200';
      const esp = fromHex(c.esp_packet);
      const full =
        c.full_packet_with_outer_ip_header === undefined ? null : fromHex(c.full_packet_with_outer_ip_header);
      const id = full === null ? 0x0a08 : (full[4]! << 8) | full[5]!;
      const inner =
        c.original_packet === undefined
          ? ipv4Around(fromHex(c.payload), '192.168.123.3', dst, id, IpProtocol.icmp)
          : fromHex(c.original_packet);
      return {
        id: c.id,
        saName: transport ? 'cbc-transport' : 'cbc-tunnel',
        sa: {
          spi: `0x${c.spi}`,
          mode: c.mode,
          encryption: { algorithm: 'aes-cbc', keyBits: 128, key: c.key },
          local: '192.168.123.3',
          remote: dst,
        },
        iv: fromHex(c.iv),
        seq: Number.parseInt(c.seq, 16),
        inner,
        innerSrc: '192.168.123.3',
        innerDst: dst,
        esp,
        wire: full ?? ipv4Around(esp, '192.168.123.3', dst, id, IpProtocol.esp),
        published: full !== null,
        identification: id,
      };
    });
  const chacha = cases('rfc7634.json')
    .filter((c) => c.esp_packet !== undefined)
    .map((c): Vector => {
      const esp = fromHex(c.esp_packet);
      return {
        id: c.id,
        saName: 'chacha-tunnel',
        sa: {
          spi: `0x${c.spi}`,
          mode: 'tunnel',
          encryption: { algorithm: 'chacha20-poly1305', key: c.keymat },
          local: '203.0.113.153',
          remote: '192.0.2.5',
        },
        iv: fromHex(c.iv),
        seq: Number.parseInt(c.seq, 16),
        inner: fromHex(c.esp_trailer.inner_payload),
        innerSrc: '198.51.100.5',
        innerDst: '192.0.2.5',
        esp,
        wire: ipv4Around(esp, '203.0.113.153', '192.0.2.5', 0x0100, IpProtocol.esp),
        published: false,
        identification: 0x0100,
      };
    });
  return [...cbc, ...chacha];
}

const all = vectors();
const work = new Workdir();
after(() => work.remove());

/** One SA per (SPI, mode) the vectors use: cases 5-6 and 7-8 share theirs. */
function sasOf(direction: 'in' | 'out') {
  const byName = new Map<string, SaConfig & { name: string }>();
  for (const v of all) {
    if (byName.has(v.saName)) continue;
    const sa = { ...v.sa, name: v.saName, direction } as SaConfig & { name: string };
    byName.set(v.saName, direction === 'in' ? { ...sa, local: v.sa.remote, remote: v.sa.local } : sa);
  }
  return [...byName.values()];
}

function outPolicy(v: Vector, i: number) {
  return {
    id: `p${i}`,
    direction: 'out',
    local: v.innerSrc,
    remote: v.innerDst,
    action: 'protect',
    template: { mode: v.sa.mode, sa: { name: v.saName } },
  };
}

describe('published whole-ESP-packet vectors through espresso process', () => {
  it('has RFC 3602 cases 5-8 and RFC 7634 Appendix A', () => {
    assert.deepEqual(
      all.map((v) => v.id),
      ['rfc3602-case-5', 'rfc3602-case-6', 'rfc3602-case-7', 'rfc3602-case-8', 'rfc7634-appendix-a-esp'],
    );
  });

  it('--from outside decrypts each published packet to the original packet, byte for byte', async () => {
    const input = work.path('vectors-esp.pcap');
    await writeCapture(
      input,
      all.map((v) => v.wire),
      { link: 'ethernet' },
    );
    const config = work.writeJson('vectors-in.json', configDocument(sasOf('in')));
    const out = work.path('vectors-clear.pcap');
    const stats = work.path('vectors-clear.json');
    const r = espresso([
      'process',
      '--config',
      config,
      '--in',
      input,
      '--out',
      out,
      '--from',
      'outside',
      '--stats',
      stats,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const { packets } = readPackets(out);
    assert.deepEqual(
      packets.map(hexOf),
      all.map((v) => hexOf(v.inner)),
    );
    const s = readStats(stats);
    assert.equal(s.decrypted, all.length);
    assert.equal(s.drops.total, 0);
  });

  for (const v of all) {
    it(`${v.id}: the command's pipeline, given the vector's IV, sends the published packet`, async () => {
      const input = work.path(`${v.id}-inner.pcap`);
      await writeCapture(input, [v.inner]);
      const config = work.writeJson(
        `${v.id}-out.json`,
        configDocument(
          [
            {
              ...v.sa,
              name: v.saName,
              direction: 'out',
              initialSequence: String(v.seq),
              ttl: 64,
              df: 'copy',
            } as SaConfig & { name: string },
          ],
          [outPolicy(v, 0)],
        ),
      );
      const out = work.path(`${v.id}-esp.pcap`);
      const stats = await processCapture({
        config: await loadProcessConfig(config),
        from: 'inside',
        input,
        output: out,
        datapath: {
          saOptions: () => ({
            ivWriter: (buf, at) => buf.set(v.iv, at),
            firstIdentification: v.identification,
          }),
        },
      });
      assert.equal(stats.protected, 1);
      const [packet] = readPackets(out).packets;
      assert.ok(packet !== undefined);
      assert.equal(hexOf(packet.subarray(packet.length - v.esp.length)), hexOf(v.esp));
      assert.equal(packet.length, 20 + v.esp.length);
      if (v.published) assert.equal(hexOf(packet), hexOf(v.wire));
    });
  }

  it('--from inside, with its own IVs: scapy and the command itself decrypt the output to the originals', async () => {
    const input = work.path('vectors-inner.pcapng');
    await writeCapture(
      input,
      all.map((v) => v.inner),
      { format: 'pcapng' },
    );
    const distinct = all.filter((v, i) => all.findIndex((w) => w.innerDst === v.innerDst) === i);
    const config = work.writeJson('vectors-out.json', configDocument(sasOf('out'), distinct.map(outPolicy)));
    const esp = work.path('vectors-own.pcap');
    const r = espresso(['process', '--config', config, '--in', input, '--out', esp, '--from', 'inside']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /protected 5, bypassed 0, dropped 0/);
    const sent = readPackets(esp).packets;
    assert.equal(sent.length, all.length);

    const peer = new ScapyPeer();
    try {
      for (const [i, v] of all.entries()) {
        const packet = sent[i]!;
        assert.equal(readU32(packet, 20), Number(v.sa.spi), `${v.id}: SPI`);
        const seq = BigInt(readU32(packet, 24));
        const scapySa: ScapySa = {
          spi: Number(v.sa.spi),
          crypt: v.sa.encryption.algorithm === 'aes-cbc' ? 'AES-CBC' : 'CHACHA20-POLY1305',
          cryptKey: v.sa.encryption.key,
          icv: 16,
          auth: null,
          authKey: '',
          mode: v.sa.mode === 'transport' ? 'transport' : 'tunnel',
          tunnel: v.sa.mode === 'transport' ? null : { version: 4, src: v.sa.local, dst: v.sa.remote },
          natT: null,
          esn: false,
        };
        const [inner] = await peer.decrypt(scapySa, [packet], [seq]);
        assert.equal(hexOf(inner!), hexOf(v.inner), `${v.id}: scapy's decryption`);
      }
    } finally {
      peer.close();
    }

    const back = work.path('vectors-back.pcap');
    const config2 = work.writeJson('vectors-in2.json', configDocument(sasOf('in')));
    const r2 = espresso(['process', '--config', config2, '--in', esp, '--out', back, '--from', 'outside']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(
      readPackets(back).packets.map(hexOf),
      all.map((v) => hexOf(v.inner)),
    );
  });
});
