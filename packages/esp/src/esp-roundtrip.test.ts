import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpProtocol } from '@espresso/wire';
import { EspInbound } from './inbound.ts';
import { InboundSaTable } from './inbound-sa-table.ts';
import { EspOutbound } from './outbound.ts';
import { VERDICT_FORWARD } from './packet-vector.ts';
import { createSaRuntime } from './sa-runtime.ts';
import {
  ADDRESSES,
  algorithmCases,
  hex,
  innerPacket,
  packetAt,
  saPair,
  vectorOf,
} from './testing/fixtures.ts';

const modes = ['tunnel', 'transport', 'beet'] as const;

/**
 * BEET rebuilds the inner header from the outer one: an IPv4 packet carried over IPv6 comes back with
 * the fields IPv6 lacks as the outer header implies (identification 0, DF set).
 */
function innerFor(
  mode: (typeof modes)[number],
  innerVersion: 4 | 6,
  outerVersion: 4 | 6,
  size: number,
  seed: number,
  delivered = false,
) {
  const lost = delivered && mode === 'beet' && innerVersion === 4 && outerVersion === 6;
  const a = ADDRESSES[mode === 'transport' ? outerVersion : innerVersion];
  const useOuter = mode === 'transport';
  return innerPacket({
    version: mode === 'transport' ? outerVersion : innerVersion,
    src: useOuter ? a.a : a.innerA,
    dst: useOuter ? a.b : a.innerB,
    payloadBytes: size,
    seed,
    dscp: 10,
    ecn: 2,
    ...(lost ? { identification: 0, dontFragment: true } : {}),
  });
}

describe('ESP encapsulation and decapsulation round trip (Espresso to Espresso)', () => {
  for (const alg of algorithmCases()) {
    for (const mode of modes) {
      for (const outerVersion of [4, 6] as const) {
        for (const innerVersion of mode === 'transport' ? [outerVersion] : ([4, 6] as const)) {
          for (const encap of [false, true]) {
            for (const esn of [false, true]) {
              const name = `${alg.name} ${mode} ${innerVersion}-in-${outerVersion}${encap ? ' udp' : ''}${esn ? ' esn' : ''}`;
              it(name, () => {
                const start = esn ? 0xfffffffdn : 1n;
                const pair = saPair(alg, {
                  mode,
                  outerVersion,
                  innerVersion,
                  encap,
                  esn,
                  initialSequence: start,
                });
                const out = createSaRuntime(pair.out, { id: 1 });
                const inb = createSaRuntime(pair.in, { id: 2 });
                const table = new InboundSaTable();
                table.add(inb);
                const sizes = [0, 1, 15, 16, 17, 100, 1400];
                const inner = sizes.map((s, i) => innerFor(mode, innerVersion, outerVersion, s, i));
                const v = vectorOf(inner);
                const enc = new EspOutbound({ capacity: 16 });
                assert.equal(enc.encapsulate(out, v, 0, v.count, 0), inner.length);
                for (let i = 0; i < v.count; i++) {
                  const p = packetAt(v, i);
                  assert.equal(p[0]! >>> 4, outerVersion);
                  const protocol = outerVersion === 4 ? p[9] : p[6];
                  assert.equal(protocol, encap ? IpProtocol.udp : IpProtocol.esp);
                }
                const dec = new EspInbound({ capacity: 16, table });
                assert.equal(dec.decapsulate(v, 0, v.count, 0), inner.length);
                for (let i = 0; i < v.count; i++) {
                  assert.equal(v.verdict[i], VERDICT_FORWARD);
                  assert.equal(v.sa[i], 2);
                  const expected = innerFor(mode, innerVersion, outerVersion, sizes[i]!, i, true);
                  assert.equal(hex(packetAt(v, i)), hex(expected), `packet ${i}`);
                }
                assert.equal(inb.replay?.top(), start + BigInt(inner.length) - 1n);
              });
            }
          }
        }
      }
    }
  }
});
