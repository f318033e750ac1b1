import { formatIpAddress, readAddressWords, readU16, readU32 } from '@espresso/wire';
import type { SaRuntime } from './sa-runtime.ts';

const seen = new Uint32Array(4);

/**
 * Whether an ESP-in-UDP packet for `sa` (outer header at `ipOffset`, UDP header at `udpOffset`) came
 * from another address or port than the SA's peer: a NAT on the way rebound (RFC 3948 §2.3, RFC 7296
 * §2.23). Reads only; allocates nothing.
 */
export function natMappingChanged(
  sa: SaRuntime,
  buf: Uint8Array,
  ipOffset: number,
  udpOffset: number,
): boolean {
  if (readU16(buf, udpOffset) !== sa.encapSourcePort) return true;
  const peer = sa.peerWords;
  if (sa.outerVersion === 4) return readU32(buf, ipOffset + 12) !== peer[3];
  return (
    readU32(buf, ipOffset + 8) !== peer[0] ||
    readU32(buf, ipOffset + 12) !== peer[1] ||
    readU32(buf, ipOffset + 16) !== peer[2] ||
    readU32(buf, ipOffset + 20) !== peer[3]
  );
}

/**
 * Moves the SA's peer to the packet's source address and port and raises `nat-mapping-change`. Called
 * only for a packet that authenticated and became the newest in the replay window, so neither a
 * replayed packet nor a late one reordered behind newer traffic can pull the peer back to an old
 * mapping.
 */
export function followNatMapping(
  sa: SaRuntime,
  buf: Uint8Array,
  ipOffset: number,
  udpOffset: number,
  seqHigh: number,
  seqLow: number,
  now: number,
): void {
  const replay = sa.replay;
  if (replay === null || replay.topHigh !== seqHigh || replay.topLow !== seqLow) return;
  const previousAddress = sa.peerText();
  const previousPort = sa.encapSourcePort;
  if (sa.outerVersion === 4) {
    seen.fill(0);
    seen[3] = readU32(buf, ipOffset + 12);
  } else {
    readAddressWords(buf, ipOffset + 8, seen);
  }
  const port = readU16(buf, udpOffset);
  sa.updatePeer({ version: sa.outerVersion, words: seen }, port);
  sa.events.emit({
    type: 'nat-mapping-change',
    saId: sa.id,
    spi: sa.spi,
    direction: 'in',
    previousAddress,
    previousPort,
    address: formatIpAddress({ version: sa.outerVersion, words: seen }),
    port,
    sequence: (BigInt(seqHigh) << 32n) | BigInt(seqLow),
    at: now,
  });
}
