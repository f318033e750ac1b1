import {
  AGGFRAG_BASIC_HEADER_BYTES,
  AGGFRAG_CC_HEADER_BYTES,
  type AggfragHeader,
  writeAggfragBasicHeader,
  writeAggfragCongestionHeader,
} from './aggfrag-header.ts';
import type { SendQueue } from './send-queue.ts';

/** How one outer payload is to be packed. One object per sender, reused. */
export interface PackRequest {
  /** Size of the AGGFRAG payload (header included) the outer packet carries. */
  payloadBytes: number;
  /** Fill the rest with a pad data block when the queue runs dry (fixed-size packets). */
  pad: boolean;
  /** Never split an inner packet (the queue holds none larger than a payload's data). */
  dontFragment: boolean;
  /** Sub-type 1 fields to send, or null for the 4-octet sub-type 0 header. */
  congestion: AggfragHeader | null;
}

export function createPackRequest(payloadBytes: number): PackRequest {
  return { payloadBytes, pad: false, dontFragment: false, congestion: null };
}

/** What the last `packPayload` did, for counters and tests. */
export interface PackResult {
  /** Inner packets that ended in this payload (whole ones and last fragments). */
  completed: number;
  /** Octets of pad data block. */
  padBytes: number;
}

export function createPackResult(): PackResult {
  return { completed: 0, padBytes: 0 };
}

/**
 * Packs one AGGFRAG payload (RFC 9347 §2.2, §6.1) at `dst[offset]` from `queue`: first the rest of a
 * packet split by the previous payload, its length in BlockOffset (which may point past this payload:
 * §6.1.1), then whole packets, then the start of the next one unless fragmentation is off, then, when
 * `pad` asks, a pad data block (type nibble 0) to the full size. Returns the payload's length: 0 when
 * the queue is empty and no padding is asked for; the bare header is never sent as data.
 */
export function packPayload(
  queue: SendQueue,
  dst: Uint8Array,
  offset: number,
  request: PackRequest,
  result: PackResult,
): number {
  result.completed = 0;
  result.padBytes = 0;
  const pending = queue.pendingBytes;
  if (pending === 0 && !request.pad) return 0;
  const headerBytes = request.congestion === null ? AGGFRAG_BASIC_HEADER_BYTES : AGGFRAG_CC_HEADER_BYTES;
  let at = offset + headerBytes;
  const dataSpace = request.payloadBytes - headerBytes;
  // The sender refuses inner packets over 65535 octets, so the rest always fits in 16 bits.
  const blockOffset = queue.headSent > 0 ? queue.headLength - queue.headSent : 0;
  // The queue keeps packets back to back, exactly as the DataBlocks lay them out: splitting allowed,
  // the payload takes the next `dataSpace` bytes whoever they belong to; only don't-fragment needs
  // to look at the packets' lengths.
  const data = request.dontFragment ? queue.wholeBytes(dataSpace) : pending < dataSpace ? pending : dataSpace;
  queue.consume(dst, at, data);
  at += data;
  result.completed = queue.completed;
  const space = dataSpace - data;
  if (space > 0 && request.pad) {
    // A pad data block: type 0 in the first nibble; the rest is ignored on receipt, zeros hide nothing.
    dst.fill(0, at, at + space);
    result.padBytes = space;
    at += space;
  }
  if (request.congestion === null) writeAggfragBasicHeader(dst, offset, blockOffset);
  else writeAggfragCongestionHeader(dst, offset, blockOffset, request.congestion);
  return at - offset;
}
