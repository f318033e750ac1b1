import { readU16, writeU16 } from '@espresso/wire';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
/** The longest L2 header the emulator handles: MACs, one 802.1Q tag, ethertype. */
export const MAX_L2_BYTES = 18;

/** An Ethernet header's fields, parsed into one reused object. */
export interface L2Header {
  /** Bytes before the IP header: 14, or 18 with a VLAN tag. */
  length: number;
  /** 802.1Q VLAN id, 0 when untagged. */
  vlan: number;
  ethertype: number;
  /** Offsets of the MACs in the buffer. */
  dstMac: number;
  srcMac: number;
}

export function createL2Header(): L2Header {
  return { length: 0, vlan: 0, ethertype: 0, dstMac: 0, srcMac: 0 };
}

/** Parses the frame's L2 header; false when it is too short or does not carry IPv4 or IPv6. */
export function parseL2(buf: Uint8Array, offset: number, length: number, out: L2Header): boolean {
  if (length < 14) return false;
  out.dstMac = offset;
  out.srcMac = offset + 6;
  let type = readU16(buf, offset + 12);
  out.vlan = 0;
  out.length = 14;
  if (type === ETHERTYPE_VLAN) {
    if (length < 18) return false;
    out.vlan = readU16(buf, offset + 14) & 0x0fff;
    type = readU16(buf, offset + 16);
    out.length = 18;
  }
  out.ethertype = type;
  return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6;
}

/** Copies the MACs and VLAN tag of `from` (at `l2.dstMac`) into `scratch` (MAX_L2_BYTES). */
export function saveL2(buf: Uint8Array, l2: L2Header, scratch: Uint8Array): void {
  scratch.set(buf.subarray(l2.dstMac, l2.dstMac + l2.length));
}

/**
 * Writes a saved L2 header in front of an IP packet at `ipOffset`, with the ethertype of that packet's
 * version; returns where the frame now starts.
 */
export function restoreL2(buf: Uint8Array, ipOffset: number, l2Length: number, scratch: Uint8Array): number {
  const start = ipOffset - l2Length;
  buf.set(scratch.subarray(0, l2Length - 2), start);
  writeU16(buf, ipOffset - 2, buf[ipOffset]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  return start;
}

/** Builds a frame around an IP packet: for tests and the host side of the emulator. */
export function ethernetFrame(dst: Uint8Array, src: Uint8Array, vlan: number, ip: Uint8Array): Uint8Array {
  const l2 = vlan === 0 ? 14 : 18;
  const frame = new Uint8Array(l2 + ip.length);
  frame.set(dst.subarray(0, 6), 0);
  frame.set(src.subarray(0, 6), 6);
  if (vlan !== 0) {
    writeU16(frame, 12, ETHERTYPE_VLAN);
    writeU16(frame, 14, vlan & 0x0fff);
  }
  writeU16(frame, l2 - 2, ip[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  frame.set(ip, l2);
  return frame;
}

/** The IP packet inside a frame (a copy). */
export function ipOfFrame(frame: Uint8Array): Uint8Array {
  const l2 = readU16(frame, 12) === ETHERTYPE_VLAN ? 18 : 14;
  return frame.slice(l2);
}
