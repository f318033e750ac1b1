import { createIpv4Header, createIpv6Header, writeIpv4Header, writeIpv6Header } from '@espresso/wire';

export interface TestPacketOptions {
  /** Distinguishes packets: it patterns the payload and sits in the identification / flow label. */
  readonly seed?: number;
  readonly ecn?: number;
  readonly dontFragment?: boolean;
  readonly src?: number;
  readonly dst?: number;
}

/**
 * An inner packet of exactly `total` octets (IPv4: 20 or more, IPv6: 40 or more) with a valid header
 * (protocol 253, for experiments) and a payload patterned by `seed`, so packets compare by content.
 */
export function testPacket(version: 4 | 6, total: number, o: TestPacketOptions = {}): Uint8Array {
  const seed = o.seed ?? 0;
  const bytes = new Uint8Array(total);
  const headerBytes = version === 4 ? 20 : 40;
  for (let i = headerBytes; i < total; i++) bytes[i] = (i * 31 + seed * 7 + (seed >>> 8)) & 0xff;
  if (version === 4) {
    const h = createIpv4Header();
    h.totalLength = total;
    h.identification = seed & 0xffff;
    h.ecn = o.ecn ?? 0;
    h.dontFragment = o.dontFragment ?? true;
    h.ttl = 64;
    h.protocol = 253;
    h.src = o.src ?? 0x0a010001;
    h.dst = o.dst ?? 0x0a020002;
    writeIpv4Header(bytes, 0, h);
  } else {
    const h = createIpv6Header();
    h.payloadLength = total - 40;
    h.flowLabel = seed & 0xfffff;
    h.ecn = o.ecn ?? 0;
    h.nextHeader = 253;
    h.hopLimit = 64;
    h.src.set([0xfd000001, 0, 0, 1]);
    h.dst.set([0xfd000002, 0, 0, 2]);
    writeIpv6Header(bytes, 0, h);
  }
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
