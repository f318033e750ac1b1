import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cryptoEngines } from '@espresso/crypto';
import {
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  resolveSaConfig,
  VERDICT_FORWARD,
} from '@espresso/esp';
import {
  ADDRESSES,
  type AlgorithmCase,
  algorithmCases,
  hex,
  innerPacket,
  packetAt,
  saPair,
  vectorOf,
} from '@espresso/esp/testing';
import {
  createIpv4Header,
  createIpv6Header,
  parseIpAddress,
  readU16,
  writeIpv4Header,
  writeIpv6Header,
} from '@espresso/wire';
import { ScapyPeer, type ScapySa, scapyAlgorithm } from './scapy-peer.ts';

/**
 * Espresso against an independent ESP implementation, scapy 2.5's SecurityAssociation, for every
 * algorithm x mode x inner/outer family x ESN x UDP encapsulation: scapy decrypts what Espresso
 * encrypts and Espresso decrypts what scapy encrypts, inner packets compared byte for byte.
 *
 * BEET, which scapy does not know, is checked through what BEET is on the wire, transport mode between
 * the outer addresses: scapy decrypts Espresso's BEET packets as transport mode (the upper-layer bytes
 * and protocol must be the inner packet's), and encrypts in transport mode the inner payload under an
 * outer-addressed header, which Espresso's BEET decapsulation must turn back into the inner packet.
 * With ESN on, the sequence numbers start at 2^32 - 2 so the packets straddle the high-bits change.
 * Espresso's side takes the crypto engines that implement each algorithm in turn.
 */

type Mode = 'tunnel' | 'transport' | 'beet';

const peer = new ScapyPeer();
after(() => peer.close());

const SIZES = [1, 100, 1000];

interface Case {
  readonly alg: AlgorithmCase;
  /** Crypto engine on Espresso's side: the cases take the available engines in turn. */
  readonly engine: string;
  readonly mode: Mode;
  readonly innerVersion: 4 | 6;
  readonly outerVersion: 4 | 6;
  readonly encap: boolean;
  readonly esn: boolean;
}

function enginesFor(alg: AlgorithmCase): string[] {
  const spec = resolveSaConfig(saPair(alg).out).cipherSpec;
  return cryptoEngines.filter((e) => e.available && e.supports(spec)).map((e) => e.name);
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const alg of algorithmCases(7)) {
    const engines = enginesFor(alg);
    for (const mode of ['tunnel', 'transport', 'beet'] as const) {
      for (const outerVersion of [4, 6] as const) {
        for (const innerVersion of mode === 'transport' ? [outerVersion] : ([4, 6] as const)) {
          for (const esn of [false, true]) {
            for (const encap of [false, true]) {
              const engine = engines[out.length % engines.length]!;
              out.push({ alg, engine, mode, innerVersion, outerVersion, encap, esn });
            }
          }
        }
      }
    }
  }
  return out;
}

function innerPackets(c: Case, deliveredByBeet = false): Uint8Array[] {
  const a = ADDRESSES[c.mode === 'transport' ? c.outerVersion : c.innerVersion];
  const transport = c.mode === 'transport';
  const lost = deliveredByBeet && c.mode === 'beet' && c.innerVersion === 4 && c.outerVersion === 6;
  return SIZES.map((payloadBytes, seed) =>
    innerPacket({
      version: transport ? c.outerVersion : c.innerVersion,
      src: transport ? a.a : a.innerA,
      dst: transport ? a.b : a.innerB,
      payloadBytes,
      seed,
      dscp: 12,
      ecn: 2,
      ...(lost ? { identification: 0, dontFragment: true } : {}),
    }),
  );
}

function ipHeaderLength(p: Uint8Array): number {
  return p[0]! >>> 4 === 4 ? (p[0]! & 0x0f) * 4 : 40;
}

function protocolOf(p: Uint8Array): number {
  return p[0]! >>> 4 === 4 ? p[9]! : p[6]!;
}

/** The inner packet as BEET puts it on the wire: its upper layer under a header between the outer addresses. */
function outerAddressed(c: Case, inner: Uint8Array): Uint8Array {
  const outer = ADDRESSES[c.outerVersion];
  const h = ipHeaderLength(inner);
  const upper = inner.subarray(h);
  const v4 = inner[0]! >>> 4 === 4;
  const tos = v4 ? inner[1]! : ((inner[0]! & 0x0f) << 4) | (inner[1]! >>> 4);
  const ttl = v4 ? inner[8]! : inner[7]!;
  if (c.outerVersion === 4) {
    const f = createIpv4Header();
    f.dscp = tos >>> 2;
    f.ecn = tos & 3;
    f.totalLength = 20 + upper.length;
    f.identification = v4 ? readU16(inner, 4) : 0x4321;
    f.dontFragment = v4 ? (inner[6]! & 0x40) !== 0 : false;
    f.ttl = ttl;
    f.protocol = protocolOf(inner);
    f.src = parseIpAddress(outer.a)!.words[3]!;
    f.dst = parseIpAddress(outer.b)!.words[3]!;
    const out = new Uint8Array(20 + upper.length);
    writeIpv4Header(out, 0, f);
    out.set(upper, 20);
    return out;
  }
  const f = createIpv6Header();
  f.dscp = tos >>> 2;
  f.ecn = tos & 3;
  f.payloadLength = upper.length;
  f.nextHeader = protocolOf(inner);
  f.hopLimit = ttl;
  f.src.set(parseIpAddress(outer.a)!.words);
  f.dst.set(parseIpAddress(outer.b)!.words);
  const out = new Uint8Array(40 + upper.length);
  writeIpv6Header(out, 0, f);
  out.set(upper, 40);
  return out;
}

function scapySa(c: Case, spi: number): ScapySa {
  const outer = ADDRESSES[c.outerVersion];
  return {
    spi,
    ...scapyAlgorithm(c.alg),
    mode: c.mode === 'tunnel' ? 'tunnel' : 'transport',
    tunnel: c.mode === 'tunnel' ? { version: c.outerVersion, src: outer.a, dst: outer.b } : null,
    natT: c.encap ? { sport: 4500, dport: 4501 } : null,
    esn: c.esn,
  };
}

function caseName(c: Case): string {
  return `${c.alg.name} ${c.mode} ${c.innerVersion}-in-${c.outerVersion}${c.esn ? ' esn' : ''}${c.encap ? ' udp' : ''} (${c.engine})`;
}

describe('ESP interop with scapy', () => {
  let spi = 0x20000;
  for (const c of cases()) {
    const first = c.esn ? 2n ** 32n - 2n : 1n;
    const seqs = SIZES.map((_, i) => first + BigInt(i));

    it(`${caseName(c)}: scapy decrypts Espresso`, async () => {
      spi++;
      const pair = saPair(c.alg, { ...c, spi, initialSequence: first, extra: { engine: c.engine } });
      const sa = createSaRuntime(pair.out);
      const inner = innerPackets(c);
      const v = vectorOf(inner);
      assert.equal(new EspOutbound({ capacity: 8 }).encapsulate(sa, v, 0, v.count, 0), inner.length);
      const wire = inner.map((_, i) => packetAt(v, i));
      const back = await peer.decrypt(scapySa(c, spi), wire, seqs);
      for (let i = 0; i < inner.length; i++) {
        if (c.mode === 'beet') {
          const got = back[i]!;
          assert.equal(got[0]! >>> 4, c.outerVersion);
          assert.equal(protocolOf(got), protocolOf(inner[i]!));
          assert.equal(
            hex(got.subarray(ipHeaderLength(got))),
            hex(inner[i]!.subarray(ipHeaderLength(inner[i]!))),
          );
        } else {
          assert.equal(hex(back[i]!), hex(inner[i]!), `packet ${i}`);
        }
      }
      sa.destroy();
    });

    it(`${caseName(c)}: Espresso decrypts scapy`, async () => {
      spi++;
      const pair = saPair(c.alg, { ...c, spi, initialSequence: first, extra: { engine: c.engine } });
      const sa = createSaRuntime(pair.in);
      const table = new InboundSaTable();
      table.add(sa);
      const inner = innerPackets(c);
      const given = c.mode === 'beet' ? inner.map((p) => outerAddressed(c, p)) : inner;
      const wire = await peer.encrypt(scapySa(c, spi), given, first);
      const v = vectorOf(wire);
      const delivered = new EspInbound({ capacity: 8, table }).decapsulate(v, 0, v.count, 0);
      const expected = innerPackets(c, true);
      for (let i = 0; i < inner.length; i++) {
        assert.equal(v.verdict[i], VERDICT_FORWARD, `packet ${i} dropped with reason ${v.verdict[i]}`);
        assert.equal(hex(packetAt(v, i)), hex(expected[i]!), `packet ${i}`);
      }
      assert.equal(delivered, inner.length);
      assert.equal(sa.replay?.top(), seqs.at(-1));
      sa.destroy();
    });
  }
});
