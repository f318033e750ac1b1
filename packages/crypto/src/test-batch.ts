import { type CipherSpec, cipherGeometry } from './cipher-spec.ts';
import { espHeaderBytes, writeU32be } from './esp-fields.ts';
import { createPacketBatch, type PacketBatch } from './packet-batch.ts';

/** One ESP packet before sealing, as the ESP layer would hand it to an engine. */
export interface TestPacket {
  readonly spi: number;
  readonly seq: number;
  /** ESN high half; engines must ignore it when the SA has no ESN. */
  readonly seqHigh: number;
  /** ivBytes long (empty with an implicit IV or null encryption). */
  readonly iv: Uint8Array;
  /** Payload and trailer: the bytes between the IV and the ICV. */
  readonly payload: Uint8Array;
}

export interface LayoutOptions {
  /** Bytes before the first packet. */
  readonly lead?: number;
  /** Bytes between packet k and k+1 (missing entries: 0). */
  readonly gaps?: readonly number[];
  readonly tail?: number;
  /** What the bytes outside packets hold, so that writes outside a packet show. */
  readonly fill?: number;
}

/**
 * Lays packets out in one buffer the way the packet pool holds them (SPI, sequence, IV, payload, a
 * zeroed ICV), at arbitrary, unaligned offsets. For tests and benchmarks.
 */
export function layOutPackets(
  spec: CipherSpec,
  packets: readonly TestPacket[],
  options: LayoutOptions = {},
): PacketBatch {
  const { lead = 0, gaps = [], tail = 0, fill = 0xa5 } = options;
  const g = cipherGeometry(spec);
  const sizes = packets.map((p) => espHeaderBytes + g.ivBytes + p.payload.length + g.icvBytes);
  const total = lead + sizes.reduce((a, b) => a + b, 0) + gaps.reduce((a, b) => a + b, 0) + tail;
  const buffer = new Uint8Array(total).fill(fill);
  const batch = createPacketBatch(buffer, packets.length);
  let at = lead;
  packets.forEach((p, k) => {
    if (p.iv.length !== g.ivBytes) throw new RangeError(`packet ${k}: iv must be ${g.ivBytes} bytes`);
    writeU32be(buffer, at, p.spi);
    writeU32be(buffer, at + 4, p.seq);
    buffer.set(p.iv, at + espHeaderBytes);
    buffer.set(p.payload, at + espHeaderBytes + g.ivBytes);
    buffer.fill(0, at + espHeaderBytes + g.ivBytes + p.payload.length, at + sizes[k]!);
    batch.offset[k] = at;
    batch.length[k] = sizes[k]!;
    batch.seqHigh[k] = p.seqHigh;
    at += sizes[k]! + (gaps[k] ?? 0);
  });
  batch.count = packets.length;
  return batch;
}

/** A batch with its own copy of the buffer and of the descriptor arrays. */
export function copyBatch(batch: PacketBatch): PacketBatch {
  return {
    buffer: batch.buffer.slice(),
    offset: batch.offset.slice(),
    length: batch.length.slice(),
    seqHigh: batch.seqHigh.slice(),
    status: batch.status.slice(),
    count: batch.count,
  };
}

/** Packet k's bytes (SPI .. ICV) as a view. */
export function packetBytes(batch: PacketBatch, k: number): Uint8Array {
  const o = batch.offset[k]!;
  return batch.buffer.subarray(o, o + batch.length[k]!);
}
