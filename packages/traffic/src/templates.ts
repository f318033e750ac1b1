import {
  createIpv4Header,
  createIpv6Header,
  IpProtocol,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  writeIpv4Header,
  writeIpv6Header,
  writeU32,
  writeUdpChecksum,
  writeUdpHeader,
} from '@espresso/wire';
import { TrafficOptionError } from './errors.ts';
import type { FlowSpec } from './flows.ts';
import type { SizeMix } from './size-mix.ts';
import { STAMP_BYTES, STAMP_MAGIC } from './stamp.ts';

/** Smallest packet that holds the stamp: IP header + UDP header + 16 bytes. */
export function minimumPacketBytes(version: 4 | 6): number {
  return (version === 4 ? 20 : 40) + 8 + STAMP_BYTES;
}

/** Most template indices a stamp can name (u16). */
export const MAX_TEMPLATES = 65536;
/** Most bytes all templates together may take. */
export const MAX_TEMPLATE_BYTES = 64 << 20;

/**
 * One prebuilt packet per (flow, size): correct IP header and UDP checksum, a payload pattern unique
 * to the template, and a stamp with only its magic set. The generator copies a template into a pool
 * slot and writes the stamp's variable words; the sink compares what arrives against the same
 * template. Template t = flow * sizes + size index.
 */
export class PacketTemplates {
  readonly flows: readonly FlowSpec[];
  readonly mix: SizeMix;
  readonly count: number;
  readonly bytes: Uint8Array;
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  /** Where the stamp starts, from the packet's first byte. */
  readonly stampAt: Uint8Array;
  readonly flowOf: Uint32Array;
  readonly version: Uint8Array;
  readonly dscp: Uint8Array;
  /** One view per template, made once, so copying a template allocates nothing. */
  readonly views: readonly Uint8Array[];

  constructor(flows: readonly FlowSpec[], mix: SizeMix) {
    const sizes = mix.sizes;
    const count = flows.length * sizes.length;
    if (count > MAX_TEMPLATES) {
      throw new TrafficOptionError('--flows', `flows x sizes must be at most ${MAX_TEMPLATES}, got ${count}`);
    }
    let total = 0;
    for (const flow of flows) {
      for (const size of sizes) {
        if (size < minimumPacketBytes(flow.version)) {
          throw new TrafficOptionError(
            '--bytes',
            `IPv${flow.version} packets of ${size} bytes cannot hold the stamp (at least ${minimumPacketBytes(flow.version)})`,
          );
        }
        total += size;
      }
    }
    if (total > MAX_TEMPLATE_BYTES) {
      throw new TrafficOptionError(
        '--flows',
        `templates would take ${total} bytes (at most ${MAX_TEMPLATE_BYTES})`,
      );
    }
    this.flows = flows;
    this.mix = mix;
    this.count = count;
    this.bytes = new Uint8Array(total);
    this.offset = new Uint32Array(count);
    this.length = new Uint32Array(count);
    this.stampAt = new Uint8Array(count);
    this.flowOf = new Uint32Array(count);
    this.version = new Uint8Array(count);
    this.dscp = new Uint8Array(count);
    const views: Uint8Array[] = [];
    let at = 0;
    for (const flow of flows) {
      for (let s = 0; s < sizes.length; s++) {
        const t = flow.index * sizes.length + s;
        const size = sizes[s]!;
        this.offset[t] = at;
        this.length[t] = size;
        this.flowOf[t] = flow.index;
        this.version[t] = flow.version;
        this.dscp[t] = flow.dscp;
        this.stampAt[t] = buildPacket(this.bytes, at, flow, size, t);
        views.push(this.bytes.subarray(at, at + size));
        at += size;
      }
    }
    this.views = views;
  }

  templateOf(flow: number, sizeIndex: number): number {
    return flow * this.mix.sizes.length + sizeIndex;
  }
}

/** Writes one template at `at`; returns the stamp's offset within the packet. */
function buildPacket(buf: Uint8Array, at: number, flow: FlowSpec, size: number, template: number): number {
  const ipHeader = flow.version === 4 ? 20 : 40;
  const udpLength = size - ipHeader;
  const stampAt = ipHeader + 8;
  // A payload pattern that differs per template, so a packet delivered with another's bytes is caught.
  for (let i = stampAt + STAMP_BYTES; i < size; i++) buf[at + i] = (i * 29 + template * 131 + 7) & 0xff;
  writeU32(buf, at + stampAt, STAMP_MAGIC);
  if (flow.version === 4) {
    const f = createIpv4Header();
    f.dscp = flow.dscp;
    f.totalLength = size;
    f.identification = template & 0xffff;
    f.dontFragment = true;
    f.ttl = 64;
    f.protocol = IpProtocol.udp;
    f.src = flow.src[3]!;
    f.dst = flow.dst[3]!;
    writeIpv4Header(buf, at, f);
  } else {
    const f = createIpv6Header();
    f.dscp = flow.dscp;
    f.flowLabel = flow.index & 0xfffff;
    f.payloadLength = udpLength;
    f.nextHeader = IpProtocol.udp;
    f.hopLimit = 64;
    f.src.set(flow.src);
    f.dst.set(flow.dst);
    writeIpv6Header(buf, at, f);
  }
  writeUdpHeader(buf, at + ipHeader, flow.srcPort, flow.dstPort, udpLength);
  const pseudo =
    flow.version === 4
      ? ipv4PseudoHeaderSum(buf, at, IpProtocol.udp, udpLength)
      : ipv6PseudoHeaderSum(buf, at + 8, at + 24, IpProtocol.udp, udpLength);
  writeUdpChecksum(buf, at + ipHeader, udpLength, pseudo);
  return stampAt;
}
