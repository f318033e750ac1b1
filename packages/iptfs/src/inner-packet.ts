import { DropReason } from '@espresso/counters';

/** The largest inner packet IP-TFS carries: BlockOffset is 16 bits, so a continuation must fit in it. */
export const MAX_INNER_PACKET_BYTES = 0xffff;

/**
 * The length an inner packet's own header declares (RFC 9347 §2.2.1: the data block's length comes from
 * the IPv4 Total Length or IPv6 Payload Length), checked against the `length` bytes available. Returns
 * the length, or `-1 - reason` for the DropReason it fails with (`innerPacketDropReason` decodes it).
 */
export function innerPacketLength(buf: Uint8Array, offset: number, length: number): number {
  if (length < 20) return shortPacket(buf, offset, length);
  const first = buf[offset]!;
  let total: number;
  if (first >>> 4 === 4) {
    const headerLength = (first & 0x0f) << 2;
    if (headerLength < 20) return -1 - DropReason.badHeaderLength;
    total = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    if (total < headerLength) return -1 - DropReason.badTotalLength;
  } else if (first >>> 4 === 6) {
    if (length < 40) return -1 - DropReason.truncated;
    total = 40 + ((buf[offset + 4]! << 8) | buf[offset + 5]!);
  } else {
    return -1 - DropReason.badVersion;
  }
  if (total > length) return -1 - DropReason.badTotalLength;
  if (total > MAX_INNER_PACKET_BYTES) return -1 - DropReason.tooBig;
  return total;
}

/** The reason a packet shorter than an IPv4 header is refused. */
function shortPacket(buf: Uint8Array, offset: number, length: number): number {
  if (length < 1) return -1 - DropReason.truncated;
  const version = buf[offset]! >>> 4;
  return version === 4 || version === 6 ? -1 - DropReason.truncated : -1 - DropReason.badVersion;
}

/** The DropReason a negative `innerPacketLength` result stands for. */
export function innerPacketDropReason(result: number): number {
  return -1 - result;
}

/** Whether an inner packet may be IP-fragmented: IPv4 with DF clear (RFC 9347 §2.2.6). */
export function mayFragment(buf: Uint8Array, offset: number): boolean {
  return buf[offset]! >>> 4 === 4 && (buf[offset + 6]! & 0x40) === 0;
}
