import type { FlowKey } from '@espresso/wire';
import type { Direction } from './policy.ts';

/**
 * A packet's lookup input as one Uint32Array, filled in place per packet: the tree and the flow cache
 * read fixed offsets rather than object fields.
 */
export const Q = {
  src: 0,
  dst: 4,
  ifId: 8,
  mark: 9,
  protocol: 10,
  srcPort: 11,
  dstPort: 12,
  dscp: 13,
  /** srcPort << 16 | dstPort: one word of the cache key. */
  ports: 14,
  /** protocol | dscp << 8 | partition << 16: one word of the cache key. */
  meta: 15,
} as const;

export const QUERY_WORDS = 16;

/** Lookup structures are per direction and family: direction * 2 + (IPv6 ? 1 : 0). */
export const PARTITIONS = 6;

export function partitionOf(direction: number, family: number): number {
  return direction * 2 + (family === 6 ? 1 : 0);
}

export function fillQuery(
  q: Uint32Array,
  key: FlowKey,
  direction: Direction,
  ifId: number,
  mark: number,
): void {
  const src = key.src;
  const dst = key.dst;
  // IPv4 lives in word 3 alone: the upper words are zero whatever the key holds, which lets IPv4
  // lookups read word 3 only.
  const v6 = key.version === 6;
  if (v6) {
    q[0] = src[0]!;
    q[1] = src[1]!;
    q[2] = src[2]!;
    q[4] = dst[0]!;
    q[5] = dst[1]!;
    q[6] = dst[2]!;
  } else {
    q[0] = 0;
    q[1] = 0;
    q[2] = 0;
    q[4] = 0;
    q[5] = 0;
    q[6] = 0;
  }
  q[3] = src[3]!;
  q[7] = dst[3]!;
  q[8] = ifId;
  q[9] = mark;
  const protocol = key.protocol & 0xff;
  const srcPort = key.srcPort & 0xffff;
  const dstPort = key.dstPort & 0xffff;
  const dscp = key.dscp & 0x3f;
  q[10] = protocol;
  q[11] = srcPort;
  q[12] = dstPort;
  q[13] = dscp;
  q[14] = (srcPort << 16) | dstPort;
  q[15] = protocol | (dscp << 8) | ((direction * 2 + (v6 ? 1 : 0)) << 16);
}
