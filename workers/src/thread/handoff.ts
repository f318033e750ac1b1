import { DescriptorFlag } from '@espresso/ring';

/**
 * Handing a packet to the worker that owns its SA goes through io, like every other ring (so a dead
 * worker's rings all end at io). The target rides in the slot's first two headroom bytes, which an
 * outbound plaintext packet does not use yet; io reads it, sets HANDED_OFF in the descriptor's stage
 * bits and pushes the packet to the target's outbound rx ring.
 */
export const HANDED_OFF = 1 << DescriptorFlag.stageShift;

export function writeHandoffTarget(buf: Uint8Array, slotStart: number, worker: number): void {
  buf[slotStart] = worker >>> 8;
  buf[slotStart + 1] = worker & 0xff;
}

export function readHandoffTarget(buf: Uint8Array, slotStart: number): number {
  return (buf[slotStart]! << 8) | buf[slotStart + 1]!;
}
