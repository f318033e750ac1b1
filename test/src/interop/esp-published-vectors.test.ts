import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { cryptoEngines } from '@espresso/crypto';
import {
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  resolveSaConfig,
  type SaConfig,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { fromHex, hex, packetAt, vectorOf } from '@espresso/esp/testing';
import { createIpv4Header, IpProtocol, parseIpAddress, writeIpv4Header } from '@espresso/wire';

/**
 * The published vectors that are whole ESP packets (RFC 3602 §4 cases 5-8, RFC 7634 Appendix A) through
 * Espresso's ESP encapsulation and decapsulation: same key, SPI, sequence number and IV in, the
 * published packet out, byte for byte; and the published packet in, the original packet out.
 */

const vectorsDir =
  process.env.ESPRESSO_VECTORS_DIR ?? new URL('../../../../shared/vectors/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: published JSON, read field by field.
function cases(file: string): any[] {
  return JSON.parse(readFileSync(`${vectorsDir.replace(/\/$/, '')}/${file}`, 'utf8')).cases;
}

/** An IPv4 header around a payload, as the RFC shows it where the copy we have omits it. */
function ipv4Around(
  esp: Uint8Array,
  src: string,
  dst: string,
  id: number,
  ttl = 64,
  protocol: number = IpProtocol.esp,
): Uint8Array {
  const f = createIpv4Header();
  f.totalLength = 20 + esp.length;
  f.identification = id;
  f.ttl = ttl;
  f.protocol = protocol;
  f.src = parseIpAddress(src)!.words[3]!;
  f.dst = parseIpAddress(dst)!.words[3]!;
  const out = new Uint8Array(20 + esp.length);
  writeIpv4Header(out, 0, f);
  out.set(esp, 20);
  return out;
}

interface WholePacketCase {
  readonly id: string;
  readonly config: Omit<SaConfig, 'direction'>;
  readonly iv: Uint8Array;
  readonly seq: bigint;
  /** What Espresso is given outbound and must deliver inbound. */
  readonly inner: Uint8Array;
  /** The published ESP packet (SPI .. end), and the full outer packet where published. */
  readonly esp: Uint8Array;
  readonly full: Uint8Array | null;
  readonly firstIdentification: number;
  readonly outerSrc: string;
  readonly outerDst: string;
}

function rfc3602(): WholePacketCase[] {
  return cases('rfc3602.json')
    .filter((c) => c.kind === 'esp-packet')
    .map((c) => {
      const transport = c.mode === 'transport';
      const outerDst = transport ? '192.168.123.100' : '192.168.123.200';
      // Case 6 publishes only the ICMP message; its IP header is the obvious one.
      const inner =
        c.original_packet === undefined
          ? ipv4Around(fromHex(c.payload), '192.168.123.3', outerDst, 0x0a08, 64, IpProtocol.icmp)
          : fromHex(c.original_packet);
      const full =
        c.full_packet_with_outer_ip_header === undefined ? null : fromHex(c.full_packet_with_outer_ip_header);
      // Cases 5-6 ping 192.168.123.100 and 7-8 192.168.123.200 from 192.168.123.3 (the RFC's hosts).
      const id = full === null ? 0x0a08 : (full[4]! << 8) | full[5]!;
      return {
        id: c.id,
        config: {
          spi: Number.parseInt(c.spi, 16),
          mode: c.mode,
          encryption: { algorithm: 'aes-cbc', keyBits: 128, key: c.key },
          local: '192.168.123.3',
          remote: outerDst,
        },
        iv: fromHex(c.iv),
        seq: BigInt(Number.parseInt(c.seq, 16)),
        inner,
        esp: fromHex(c.esp_packet),
        full,
        firstIdentification: id,
        outerSrc: '192.168.123.3',
        outerDst,
      } satisfies WholePacketCase;
    });
}

function rfc7634(): WholePacketCase[] {
  return cases('rfc7634.json')
    .filter((c) => c.esp_packet !== undefined)
    .map((c) => ({
      id: c.id,
      config: {
        spi: Number.parseInt(c.spi, 16),
        mode: 'tunnel',
        encryption: { algorithm: 'chacha20-poly1305', key: c.keymat },
        local: '203.0.113.153',
        remote: '192.0.2.5',
      },
      iv: fromHex(c.iv),
      seq: BigInt(Number.parseInt(c.seq, 16)),
      inner: fromHex(c.esp_trailer.inner_payload),
      esp: fromHex(c.esp_packet),
      full: null,
      firstIdentification: 0x0100,
      outerSrc: '203.0.113.153',
      outerDst: '192.0.2.5',
    }));
}

const all = [...rfc3602(), ...rfc7634()];

describe('published whole-ESP-packet vectors through Espresso ESP', () => {
  it('has the cases it expects (RFC 3602 cases 5-8, RFC 7634 Appendix A)', () => {
    assert.deepEqual(
      all.map((c) => c.id),
      ['rfc3602-case-5', 'rfc3602-case-6', 'rfc3602-case-7', 'rfc3602-case-8', 'rfc7634-appendix-a-esp'],
    );
  });

  for (const c of all) {
    for (const engine of enginesFor(c)) {
      describe(`${c.id} on engine ${engine}`, () => vectorCase(c, engine));
    }
  }
});

/** Every engine available here that implements the case's transform. */
function enginesFor(c: WholePacketCase): string[] {
  const spec = resolveSaConfig({ ...c.config, direction: 'out' }).cipherSpec;
  return cryptoEngines.filter((e) => e.available && e.supports(spec)).map((e) => e.name);
}

function vectorCase(c: WholePacketCase, engine: string): void {
  it(`${c.id}: encapsulation gives the published packet`, () => {
    const sa = createSaRuntime(
      { ...c.config, engine, direction: 'out', initialSequence: c.seq.toString(), ttl: 64, df: 'copy' },
      {
        ivWriter: (buf, at) => buf.set(c.iv, at),
        firstIdentification: c.firstIdentification,
      },
    );
    const v = vectorOf([c.inner]);
    assert.equal(new EspOutbound({ capacity: 1 }).encapsulate(sa, v, 0, 1, 0), 1);
    const out = packetAt(v, 0);
    assert.equal(hex(out.subarray(out.length - c.esp.length)), hex(c.esp));
    if (c.full !== null) assert.equal(hex(out), hex(c.full));
    // Where no outer header was published, ours is the one RFC 4303 implies.
    assert.equal(out.length, 20 + c.esp.length);
    assert.equal(out[9], IpProtocol.esp);
    sa.destroy();
  });

  it(`${c.id}: decapsulation of the published packet gives the original`, () => {
    const sa = createSaRuntime({
      ...c.config,
      direction: 'in',
      local: c.config.remote,
      remote: c.config.local,
    });
    const table = new InboundSaTable();
    table.add(sa);
    const packet = c.full ?? ipv4Around(c.esp, c.outerSrc, c.outerDst, c.firstIdentification);
    const v = vectorOf([packet]);
    assert.equal(new EspInbound({ capacity: 1, table }).decapsulate(v, 0, 1, 0), 1);
    assert.equal(v.verdict[0], VERDICT_FORWARD);
    assert.equal(hex(packetAt(v, 0)), hex(c.inner));
    assert.equal(sa.replay?.top(), c.seq);
    sa.destroy();
  });
}
