import { DescriptorFlag } from '@espresso/ring';

/**
 * Handing a packet to the worker that owns its SA goes through io, like every other ring (so a dead
 * worker's rings all end at io). The worker writes the target into the slot's headroom metadata
 * (slot-headroom.ts); io reads it, sets HANDED_OFF in the descriptor's stage bits and pushes the packet
 * to the target's outbound rx ring.
 */
export const HANDED_OFF = 1 << DescriptorFlag.stageShift;
