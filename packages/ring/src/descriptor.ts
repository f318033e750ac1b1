/**
 * Packet descriptors: two u32 words per packet, so that a ring entry says where the packet is without
 * touching the packet pool.
 *
 * ```
 * word 0:  31 ......... 24 23 ................................ 0
 *          |    flags     |           slot index (24 bits)     |
 * word 1:  31 ......................... 16 15 ................ 0
 *          |  offset of first byte in slot |   length in bytes  |
 * flags:   bit 0 inbound (1: arrived on the outside, ESP side; 0: inside, plaintext)
 *          bits 1-3 port (io adapter interface index, 0-7)
 *          bits 4-7 stage flags, free for the pipeline stage that owns the packet
 * ```
 *
 * The offset moves as headers are pushed into headroom or stripped, so it travels with the packet.
 * 16-bit offset and length bound a slot at 64 KiB, far above a 9000-byte jumbo frame.
 */
export const DESCRIPTOR_WORDS = 2;

export const DescriptorLimit = {
  slotBits: 24,
  maxSlots: 1 << 24,
  maxOffset: 0xffff,
  maxLength: 0xffff,
} as const;

export const DescriptorFlag = {
  inbound: 0x01,
  portMask: 0x0e,
  portShift: 1,
  stageMask: 0xf0,
  stageShift: 4,
} as const;

const SLOT_MASK = 0x00ff_ffff;

/** Writes descriptor `index` of `descs`; no range checks (the caller owns the slot and its bounds). */
export function writeDescriptor(
  descs: Uint32Array,
  index: number,
  slot: number,
  offset: number,
  length: number,
  flags: number,
): void {
  const w = index << 1;
  descs[w] = (slot | (flags << 24)) >>> 0;
  descs[w + 1] = ((offset << 16) | length) >>> 0;
}

export function descriptorSlot(descs: Uint32Array, index: number): number {
  return descs[index << 1]! & SLOT_MASK;
}

export function descriptorFlags(descs: Uint32Array, index: number): number {
  return descs[index << 1]! >>> 24;
}

export function descriptorOffset(descs: Uint32Array, index: number): number {
  return descs[(index << 1) + 1]! >>> 16;
}

export function descriptorLength(descs: Uint32Array, index: number): number {
  return descs[(index << 1) + 1]! & 0xffff;
}

/** Rewrites offset and length in place, as a stage does after adding or removing headers. */
export function setDescriptorSpan(descs: Uint32Array, index: number, offset: number, length: number): void {
  descs[(index << 1) + 1] = ((offset << 16) | length) >>> 0;
}

export function setDescriptorFlags(descs: Uint32Array, index: number, flags: number): void {
  const w = index << 1;
  descs[w] = ((descs[w]! & SLOT_MASK) | (flags << 24)) >>> 0;
}

export function portOf(flags: number): number {
  return (flags & DescriptorFlag.portMask) >>> DescriptorFlag.portShift;
}

export function flagsFor(inbound: boolean, port: number, stage = 0): number {
  return (
    (inbound ? DescriptorFlag.inbound : 0) |
    ((port << DescriptorFlag.portShift) & DescriptorFlag.portMask) |
    ((stage << DescriptorFlag.stageShift) & DescriptorFlag.stageMask)
  );
}
