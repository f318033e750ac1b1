import {
  createIpv4Header,
  createIpv6Header,
  IpProtocol,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseIpAddress,
  writeIpv4Header,
  writeIpv6Header,
  writeUdpChecksum,
  writeUdpHeader,
} from '@espresso/wire';
import { createPacketVector, type PacketVector, setPacket } from '../packet-vector.ts';
import type { SaConfig } from '../sa-config.ts';

/**
 * Test building blocks shared by the unit tests here and the cross-implementation tests in test/:
 * SA configuration pairs for every algorithm, inner packets, and packet vectors with head- and tailroom.
 */

export interface AlgorithmCase {
  readonly name: string;
  readonly encryption: SaConfig['encryption'];
  readonly integrity?: SaConfig['integrity'];
}

function hexBytes(n: number, seed: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += ((seed * 31 + i * 17 + 7) & 0xff).toString(16).padStart(2, '0');
  return out;
}

/** One configuration per algorithm family and key size Espresso implements. */
export function algorithmCases(seed = 1): AlgorithmCase[] {
  const gcm = (bits: 128 | 192 | 256, icv: number): AlgorithmCase => ({
    name: `aes-gcm-${bits}-icv${icv}`,
    encryption: { algorithm: 'aes-gcm', keyBits: bits, icvBytes: icv, key: hexBytes(bits / 8 + 4, seed) },
  });
  const cbc = (
    bits: 128 | 192 | 256,
    integrity: 'hmac-sha256-128' | 'hmac-sha384-192' | 'hmac-sha512-256',
    keyBytes: number,
  ): AlgorithmCase => ({
    name: `aes-cbc-${bits}+${integrity}`,
    encryption: { algorithm: 'aes-cbc', keyBits: bits, key: hexBytes(bits / 8, seed) },
    integrity: { algorithm: integrity, key: hexBytes(keyBytes, seed + 1) },
  });
  return [
    gcm(128, 16),
    gcm(192, 16),
    gcm(256, 16),
    gcm(256, 12),
    gcm(128, 8),
    {
      name: 'aes-gmac-256',
      encryption: { algorithm: 'aes-gmac', keyBits: 256, key: hexBytes(36, seed) },
    },
    {
      name: 'aes-gmac-128',
      encryption: { algorithm: 'aes-gmac', keyBits: 128, key: hexBytes(20, seed) },
    },
    {
      name: 'chacha20-poly1305',
      encryption: { algorithm: 'chacha20-poly1305', key: hexBytes(36, seed) },
    },
    cbc(128, 'hmac-sha256-128', 32),
    cbc(256, 'hmac-sha256-128', 32),
    cbc(192, 'hmac-sha384-192', 48),
    cbc(256, 'hmac-sha512-256', 64),
    {
      name: 'null+hmac-sha256-128',
      encryption: { algorithm: 'null', key: '' },
      integrity: { algorithm: 'hmac-sha256-128', key: hexBytes(32, seed + 2) },
    },
  ];
}

export interface PairOptions {
  readonly spi?: number;
  readonly mode?: SaConfig['mode'];
  readonly outerVersion?: 4 | 6;
  readonly innerVersion?: 4 | 6;
  readonly encap?: boolean;
  readonly esn?: boolean;
  readonly initialSequence?: bigint;
  readonly extra?: Partial<SaConfig>;
}

export const ADDRESSES = {
  4: { a: '192.0.2.1', b: '198.51.100.2', innerA: '10.1.0.1', innerB: '10.2.0.2' },
  6: { a: '2001:db8:1::1', b: '2001:db8:2::2', innerA: 'fd00:1::1', innerB: 'fd00:2::2' },
} as const;

/**
 * An outbound SA at end A and the matching inbound SA at end B. Ports follow the wire: A sends from
 * 4500 to 4501. In transport mode the inner packets must use the outer addresses; in BEET the inner
 * addresses are the `inner*` ones.
 */
export function saPair(alg: AlgorithmCase, o: PairOptions = {}): { out: SaConfig; in: SaConfig } {
  const outer = ADDRESSES[o.outerVersion ?? 4];
  const inner = ADDRESSES[o.innerVersion ?? o.outerVersion ?? 4];
  const mode = o.mode ?? 'tunnel';
  const common = {
    spi: o.spi ?? 0x1000 + 1,
    mode,
    encryption: alg.encryption,
    ...(alg.integrity === undefined ? {} : { integrity: alg.integrity }),
    ...(o.encap ? { encap: { type: 'udp' as const, sourcePort: 4500, destinationPort: 4501 } } : {}),
    ...(o.esn ? { esn: true } : {}),
    ...o.extra,
  };
  const beetOut = mode === 'beet' ? { beet: { innerLocal: inner.innerA, innerRemote: inner.innerB } } : {};
  const beetIn = mode === 'beet' ? { beet: { innerLocal: inner.innerB, innerRemote: inner.innerA } } : {};
  const out: SaConfig = {
    ...common,
    direction: 'out',
    local: outer.a,
    remote: outer.b,
    ...beetOut,
    ...(o.initialSequence === undefined ? {} : { initialSequence: o.initialSequence.toString() }),
  };
  const inbound: SaConfig = {
    ...common,
    direction: 'in',
    local: outer.b,
    remote: outer.a,
    ...beetIn,
    ...(o.initialSequence === undefined
      ? {}
      : { initialReplay: { top: (o.initialSequence - 1n).toString() } }),
  };
  return { out, in: inbound };
}

export interface InnerPacketOptions {
  readonly version: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly payloadBytes: number;
  readonly protocol?: 'udp' | 'opaque';
  readonly dscp?: number;
  readonly ecn?: number;
  readonly dontFragment?: boolean;
  readonly flowLabel?: number;
  readonly ttl?: number;
  readonly identification?: number;
  readonly seed?: number;
}

/** A UDP (or opaque protocol 253) packet with a patterned payload and correct checksums. */
export function innerPacket(o: InnerPacketOptions): Uint8Array {
  const src = parseIpAddress(o.src);
  const dst = parseIpAddress(o.dst);
  if (src === null || dst === null) throw new TypeError('bad test address');
  const udp = (o.protocol ?? 'udp') === 'udp';
  const upper = o.payloadBytes + (udp ? 8 : 0);
  const headerBytes = o.version === 4 ? 20 : 40;
  const bytes = new Uint8Array(headerBytes + upper);
  const seed = o.seed ?? 0;
  for (let i = 0; i < o.payloadBytes; i++) bytes[headerBytes + (udp ? 8 : 0) + i] = (i * 7 + seed) & 0xff;
  const protocol = udp ? IpProtocol.udp : 253;
  if (o.version === 4) {
    const f = createIpv4Header();
    f.dscp = o.dscp ?? 0;
    f.ecn = o.ecn ?? 0;
    f.totalLength = bytes.length;
    f.identification = o.identification ?? 0x1234;
    f.dontFragment = o.dontFragment ?? false;
    f.ttl = o.ttl ?? 64;
    f.protocol = protocol;
    f.src = src.words[3]!;
    f.dst = dst.words[3]!;
    writeIpv4Header(bytes, 0, f);
  } else {
    const f = createIpv6Header();
    f.dscp = o.dscp ?? 0;
    f.ecn = o.ecn ?? 0;
    f.flowLabel = o.flowLabel ?? 0;
    f.payloadLength = upper;
    f.nextHeader = protocol;
    f.hopLimit = o.ttl ?? 64;
    f.src.set(src.words);
    f.dst.set(dst.words);
    writeIpv6Header(bytes, 0, f);
  }
  if (udp) {
    writeUdpHeader(bytes, headerBytes, 40000 + seed, 5001, upper);
    const pseudo =
      o.version === 4
        ? ipv4PseudoHeaderSum(bytes, 0, IpProtocol.udp, upper)
        : ipv6PseudoHeaderSum(bytes, 8, 24, IpProtocol.udp, upper);
    writeUdpChecksum(bytes, headerBytes, upper, pseudo);
  }
  return bytes;
}

/** Lays packets into one buffer, each in a slot with `headroom` bytes in front and `tailroom` behind. */
export function vectorOf(packets: readonly Uint8Array[], headroom = 128, tailroom = 256): PacketVector {
  const slot = headroom + tailroom + Math.max(0, ...packets.map((p) => p.length));
  const buffer = new Uint8Array(slot * Math.max(1, packets.length));
  const v = createPacketVector(buffer, Math.max(1, packets.length));
  packets.forEach((p, i) => {
    const start = i * slot;
    buffer.set(p, start + headroom);
    setPacket(v, i, start + headroom, p.length, start, start + slot);
  });
  v.count = packets.length;
  return v;
}

/** A copy of packet i's bytes as ESP left them. */
export function packetAt(v: PacketVector, i: number): Uint8Array {
  const o = v.offset[i]!;
  return v.buffer.slice(o, o + v.length[i]!);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}
