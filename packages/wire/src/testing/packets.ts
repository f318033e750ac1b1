/**
 * Test packets described field by field and built with the package's own builders, so that tests can
 * compare what a parser (ours, tshark's, scapy's) reads back with what was asked for.
 */
import { writeAddressWords, writeU16 } from '../bytes.ts';
import { writeIcmpEcho } from '../icmp.ts';
import { type Ipv4Fields, writeIpv4Header } from '../ipv4.ts';
import { IPV6_HEADER_LENGTH, type Ipv6Fields, writeIpv6Header } from '../ipv6.ts';
import {
  writeIpv6FragmentHeader,
  writeIpv6OptionsHeader,
  writeIpv6RoutingHeader,
} from '../ipv6-extensions.ts';
import { IpProtocol } from '../protocol-numbers.ts';
import { ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from '../pseudo-header.ts';
import { writeUdpChecksum, writeUdpHeader } from '../udp.ts';

export type ExtensionSpec =
  | { kind: 'hopByHop'; length: number }
  | { kind: 'destinationOptions'; length: number }
  | { kind: 'routing'; routingType: number; segmentsLeft: number; addresses: Uint32Array[] }
  | { kind: 'fragment'; offset: number; more: boolean; identification: number }
  | { kind: 'ah'; icvLength: number; spi: number; sequence: number };

export type UpperSpec =
  | { kind: 'udp'; srcPort: number; dstPort: number; payload: Uint8Array }
  | { kind: 'tcp'; srcPort: number; dstPort: number; rest: Uint8Array }
  | { kind: 'icmpEcho'; request: boolean; identifier: number; sequence: number; data: Uint8Array }
  | { kind: 'opaque'; protocol: number; data: Uint8Array };

export interface Ipv4PacketSpec {
  version: 4;
  /** totalLength and protocol are filled in by the builder. */
  header: Ipv4Fields;
  options: Uint8Array;
  upper: UpperSpec;
}

export interface Ipv6PacketSpec {
  version: 6;
  /** payloadLength and nextHeader are filled in by the builder. */
  header: Ipv6Fields;
  extensions: ExtensionSpec[];
  upper: UpperSpec;
}

export type PacketSpec = Ipv4PacketSpec | Ipv6PacketSpec;

export interface BuiltPacket {
  bytes: Uint8Array;
  upperOffset: number;
  /** Offset of the first extension header of each spec entry, in order. */
  extensionOffsets: number[];
}

export function upperProtocol(upper: UpperSpec, version: 4 | 6): number {
  switch (upper.kind) {
    case 'udp':
      return IpProtocol.udp;
    case 'tcp':
      return IpProtocol.tcp;
    case 'icmpEcho':
      return version === 4 ? IpProtocol.icmp : IpProtocol.icmpv6;
    case 'opaque':
      return upper.protocol;
  }
}

function upperLength(upper: UpperSpec): number {
  switch (upper.kind) {
    case 'udp':
      return 8 + upper.payload.length;
    case 'tcp':
      return 4 + upper.rest.length;
    case 'icmpEcho':
      return 8 + upper.data.length;
    case 'opaque':
      return upper.data.length;
  }
}

export function extensionProtocol(ext: ExtensionSpec): number {
  switch (ext.kind) {
    case 'hopByHop':
      return IpProtocol.hopByHop;
    case 'destinationOptions':
      return IpProtocol.destinationOptions;
    case 'routing':
      return IpProtocol.routing;
    case 'fragment':
      return IpProtocol.fragment;
    case 'ah':
      return IpProtocol.ah;
  }
}

export function extensionLength(ext: ExtensionSpec): number {
  switch (ext.kind) {
    case 'hopByHop':
    case 'destinationOptions':
      return ext.length;
    case 'routing':
      return 8 + 16 * ext.addresses.length;
    case 'fragment':
      return 8;
    case 'ah':
      return 12 + ext.icvLength;
  }
}

function writeExtension(buf: Uint8Array, offset: number, ext: ExtensionSpec, next: number): void {
  switch (ext.kind) {
    case 'hopByHop':
    case 'destinationOptions':
      writeIpv6OptionsHeader(buf, offset, next, ext.length);
      return;
    case 'routing':
      writeIpv6RoutingHeader(buf, offset, next, ext.routingType, ext.segmentsLeft, extensionLength(ext));
      ext.addresses.forEach((a, i) => {
        writeAddressWords(buf, offset + 8 + 16 * i, a);
      });
      return;
    case 'fragment':
      writeIpv6FragmentHeader(buf, offset, next, ext.offset, ext.more, ext.identification);
      return;
    case 'ah': {
      const length = extensionLength(ext);
      buf[offset] = next;
      buf[offset + 1] = (length >>> 2) - 2;
      writeU16(buf, offset + 2, 0);
      writeU16(buf, offset + 4, ext.spi >>> 16);
      writeU16(buf, offset + 6, ext.spi & 0xffff);
      writeU16(buf, offset + 8, ext.sequence >>> 16);
      writeU16(buf, offset + 10, ext.sequence & 0xffff);
      for (let i = 12; i < length; i++) buf[offset + i] = 0xa5;
      return;
    }
  }
}

/** Writes the upper layer at `offset`, with its checksum from `pseudo(protocol, length)`. */
function writeUpper(
  buf: Uint8Array,
  offset: number,
  upper: UpperSpec,
  version: 4 | 6,
  pseudo: (protocol: number, length: number) => number,
): void {
  const length = upperLength(upper);
  switch (upper.kind) {
    case 'udp':
      writeUdpHeader(buf, offset, upper.srcPort, upper.dstPort, length);
      buf.set(upper.payload, offset + 8);
      writeUdpChecksum(buf, offset, length, pseudo(IpProtocol.udp, length));
      return;
    case 'tcp':
      writeU16(buf, offset, upper.srcPort);
      writeU16(buf, offset + 2, upper.dstPort);
      buf.set(upper.rest, offset + 4);
      return;
    case 'icmpEcho': {
      buf.set(upper.data, offset + 8);
      const type = version === 4 ? (upper.request ? 8 : 0) : upper.request ? 128 : 129;
      const sum = version === 4 ? 0 : pseudo(IpProtocol.icmpv6, length);
      writeIcmpEcho(buf, offset, type, upper.identifier, upper.sequence, upper.data.length, sum);
      return;
    }
    case 'opaque':
      buf.set(upper.data, offset);
      return;
  }
}

export function buildPacket(spec: PacketSpec): BuiltPacket {
  return spec.version === 4 ? buildIpv4Packet(spec) : buildIpv6Packet(spec);
}

function buildIpv4Packet(spec: Ipv4PacketSpec): BuiltPacket {
  const headerLength = 20 + ((spec.options.length + 3) & ~3);
  const total = headerLength + upperLength(spec.upper);
  const bytes = new Uint8Array(total);
  spec.header.totalLength = total;
  spec.header.protocol = upperProtocol(spec.upper, 4);
  writeIpv4Header(bytes, 0, spec.header, spec.options.length === 0 ? null : spec.options);
  writeUpper(bytes, headerLength, spec.upper, 4, (protocol, length) =>
    ipv4PseudoHeaderSum(bytes, 0, protocol, length),
  );
  return { bytes, upperOffset: headerLength, extensionOffsets: [] };
}

function buildIpv6Packet(spec: Ipv6PacketSpec): BuiltPacket {
  const extensionsLength = spec.extensions.reduce((n, e) => n + extensionLength(e), 0);
  const payloadLength = extensionsLength + upperLength(spec.upper);
  const bytes = new Uint8Array(IPV6_HEADER_LENGTH + payloadLength);
  const protocols = [...spec.extensions.map(extensionProtocol), upperProtocol(spec.upper, 6)];
  spec.header.payloadLength = payloadLength;
  spec.header.nextHeader = protocols[0]!;
  writeIpv6Header(bytes, 0, spec.header);
  const extensionOffsets: number[] = [];
  let offset = IPV6_HEADER_LENGTH;
  let finalDestination = 24;
  spec.extensions.forEach((ext, i) => {
    extensionOffsets.push(offset);
    writeExtension(bytes, offset, ext, protocols[i + 1]!);
    // RFC 8200 §8.1: the pseudo-header carries the final destination (RFC 2460 type 0: the last
    // address; RFC 6275 type 2 and RFC 8754 SRH: the first).
    if (ext.kind === 'routing' && ext.segmentsLeft > 0 && ext.addresses.length > 0) {
      if (ext.routingType === 0) finalDestination = offset + 8 + 16 * (ext.addresses.length - 1);
      if (ext.routingType === 2 || ext.routingType === 4) finalDestination = offset + 8;
    }
    offset += extensionLength(ext);
  });
  writeUpper(bytes, offset, spec.upper, 6, (protocol, length) =>
    ipv6PseudoHeaderSum(bytes, 8, finalDestination, protocol, length),
  );
  return { bytes, upperOffset: offset, extensionOffsets };
}

/** The chain walk's expected view of a spec: where it stops and what it finds there. */
export function expectedChain(
  spec: Ipv6PacketSpec,
  built: BuiltPacket,
): { upperProtocol: number; upperOffset: number; nonFirstFragment: boolean; fragmentIndex: number } {
  const protocols = [...spec.extensions.map(extensionProtocol), upperProtocol(spec.upper, 6)];
  let fragmentIndex = -1;
  for (let i = 0; i < spec.extensions.length; i++) {
    const ext = spec.extensions[i]!;
    if (ext.kind !== 'fragment') continue;
    fragmentIndex = i;
    if (ext.offset !== 0) {
      return {
        upperProtocol: protocols[i + 1]!,
        upperOffset: built.extensionOffsets[i]! + 8,
        nonFirstFragment: true,
        fragmentIndex,
      };
    }
  }
  return {
    upperProtocol: protocols.at(-1)!,
    upperOffset: built.upperOffset,
    nonFirstFragment: false,
    fragmentIndex,
  };
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
