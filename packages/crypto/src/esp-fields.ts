import { type CipherSpec, cipherGeometry } from './cipher-spec.ts';
import { CryptoStatus } from './packet-batch.ts';

/**
 * Where the fields an engine reads sit in an ESP packet (RFC 4303 §2), and the checks every engine makes
 * before it touches a packet. Packets are addressed by their SPI offset `o` and length `n`.
 */

/** SPI (4) and low sequence number (4). */
export const espHeaderBytes = 8;

export interface PacketLayout {
  readonly ivBytes: number;
  readonly icvBytes: number;
  /** Header + IV + ICV: the shortest packet with an empty payload. */
  readonly overheadBytes: number;
  /** The payload (IV end to ICV start) must be a multiple of this: 16 for AES-CBC, 1 otherwise. */
  readonly payloadMultiple: number;
}

export function packetLayout(spec: CipherSpec): PacketLayout {
  const g = cipherGeometry(spec);
  return {
    ivBytes: g.ivBytes,
    icvBytes: g.icvBytes,
    overheadBytes: espHeaderBytes + g.ivBytes + g.icvBytes,
    payloadMultiple: spec.encryption === 'aes-cbc' ? 16 : 1,
  };
}

/** `ok` when the packet lies inside the buffer and its length fits the cipher; checked before any access. */
export function packetStatus(bufferLength: number, o: number, n: number, layout: PacketLayout): CryptoStatus {
  // o and n come from Uint32Arrays, so their sum is exact in a double.
  if (o + n > bufferLength) return CryptoStatus.badDescriptor;
  if (n < layout.overheadBytes) return CryptoStatus.badLength;
  if ((n - layout.overheadBytes) % layout.payloadMultiple !== 0) return CryptoStatus.badLength;
  return CryptoStatus.ok;
}

/**
 * Writes the combined-mode AAD into `out`: SPI || seq (8 bytes) or, with ESN, SPI || seqHigh || seq
 * (12 bytes; RFC 4106 §5, RFC 7634 §2.1). Returns its length.
 */
export function writeAad(out: Uint8Array, buf: Uint8Array, o: number, seqHigh: number, esn: boolean): number {
  out[0] = buf[o]!;
  out[1] = buf[o + 1]!;
  out[2] = buf[o + 2]!;
  out[3] = buf[o + 3]!;
  if (!esn) {
    out[4] = buf[o + 4]!;
    out[5] = buf[o + 5]!;
    out[6] = buf[o + 6]!;
    out[7] = buf[o + 7]!;
    return 8;
  }
  writeU32be(out, 4, seqHigh);
  out[8] = buf[o + 4]!;
  out[9] = buf[o + 5]!;
  out[10] = buf[o + 6]!;
  out[11] = buf[o + 7]!;
  return 12;
}

/**
 * Writes the 8-byte IV part of the nonce at `nonce[4..12]` (the salt stays in `nonce[0..4]`): from the
 * packet after the sequence number, or with an implicit IV (RFC 8750 §3) the 64-bit sequence number,
 * whose high half is zero without ESN.
 */
export function writeNonceIv(
  nonce: Uint8Array,
  buf: Uint8Array,
  o: number,
  seqHigh: number,
  esn: boolean,
  implicitIv: boolean,
): void {
  if (implicitIv) {
    writeU32be(nonce, 4, esn ? seqHigh : 0);
    nonce[8] = buf[o + 4]!;
    nonce[9] = buf[o + 5]!;
    nonce[10] = buf[o + 6]!;
    nonce[11] = buf[o + 7]!;
    return;
  }
  for (let k = 0; k < 8; k++) nonce[4 + k] = buf[o + espHeaderBytes + k]!;
}

export function writeU32be(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

/** Compares `n` bytes without an early exit, so the time taken says nothing about where they differ. */
export function equalInConstantTime(
  a: Uint8Array,
  aAt: number,
  b: Uint8Array,
  bAt: number,
  n: number,
): boolean {
  let diff = 0;
  for (let k = 0; k < n; k++) diff |= a[aAt + k]! ^ b[bAt + k]!;
  return diff === 0;
}
