import {
  descriptorFlags,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  type PacketPool,
  writeDescriptor,
} from '../index.ts';

/** Test packets whose length, flags and every byte follow from their sequence number. */
export function patternLength(seq: number, mtu: number): number {
  return 4 + ((seq * 7919) % (mtu - 3));
}

export function patternFlags(seq: number): number {
  return (seq * 37) & 0xff;
}

/** Writes packet `seq` into `slot` (at an offset inside the headroom) and its descriptor at `index`. */
export function writePatternPacket(
  pool: PacketPool,
  slot: number,
  seq: number,
  descs: Uint32Array,
  index: number,
): void {
  const length = patternLength(seq, pool.mtu);
  const offset = pool.headroom - (seq % 41);
  const at = pool.slotOffset(slot) + offset;
  const bytes = pool.bytes;
  bytes[at] = seq & 0xff;
  bytes[at + 1] = (seq >>> 8) & 0xff;
  bytes[at + 2] = (seq >>> 16) & 0xff;
  bytes[at + 3] = (seq >>> 24) & 0xff;
  for (let i = 4; i < length; i++) bytes[at + i] = (seq + i) & 0xff;
  writeDescriptor(descs, index, slot, offset, length, patternFlags(seq));
}

/** Null when descriptor `index` carries packet `seq` intact, else what is wrong. */
export function checkPatternPacket(
  pool: PacketPool,
  descs: Uint32Array,
  index: number,
  seq: number,
): string | null {
  const slot = descriptorSlot(descs, index);
  const offset = descriptorOffset(descs, index);
  const length = descriptorLength(descs, index);
  if (length !== patternLength(seq, pool.mtu)) return `seq ${seq}: length ${length}`;
  if (descriptorFlags(descs, index) !== patternFlags(seq))
    return `seq ${seq}: flags ${descriptorFlags(descs, index)}`;
  if (offset + length > pool.slotSize) return `seq ${seq}: span ${offset}+${length} leaves the slot`;
  const at = pool.slotOffset(slot) + offset;
  const bytes = pool.bytes;
  const found = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  if (found !== seq) return `expected seq ${seq}, found ${found}`;
  for (let i = 4; i < length; i++) {
    if (bytes[at + i] !== ((seq + i) & 0xff)) return `seq ${seq}: byte ${i} differs`;
  }
  return null;
}

/** Copies packet `index` of `descs` into `slot` at offset 0 and points the descriptor there. */
export function copyPacketTo(pool: PacketPool, descs: Uint32Array, index: number, slot: number): void {
  const offset = descriptorOffset(descs, index);
  const length = descriptorLength(descs, index);
  const from = pool.slotOffset(descriptorSlot(descs, index)) + offset;
  pool.bytes.copyWithin(pool.slotOffset(slot), from, from + length);
  writeDescriptor(descs, index, slot, 0, length, descriptorFlags(descs, index));
}

const napCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` milliseconds (a schedule's pause). */
export function nap(ms: number): void {
  if (ms > 0) Atomics.wait(napCell, 0, 0, ms);
}
