import { COUNTER_SLOTS } from '@espresso/esp';
import {
  createDoorbellStorage,
  createPoolStorage,
  createRingStorage,
  type PoolStorage,
  type RingStorage,
} from '@espresso/ring';

/**
 * The emulator's shared memory, as a NIC's BAR and queues would be: the host (thread 0, the packet
 * pool's owner) allocates it once and hands it to the emulator thread, which builds its own views.
 *
 * Per SAD entry (handle h): `counters` holds the ESP package's counter block (packets, bytes, drops by
 * reason) at h * SA_COUNTER_STRIDE, then the first-use time in milliseconds; `state` holds
 * SA_STATE_WORDS u32 words at h * SA_STATE_WORDS (see SaWord). The device writes both; the host reads.
 */
export const SA_COUNTER_STRIDE = COUNTER_SLOTS + 1;
export const FIRST_USED_SLOT = COUNTER_SLOTS;

export const SaWord = {
  /** Bumped each time the entry is given to a new SA; the host checks it before trusting the rest. */
  generation: 0,
  /** 1 while an SA holds the entry. */
  live: 1,
  /** Outbound: the next sequence number to send. Inbound: one above the replay window's top. */
  nextHigh: 2,
  nextLow: 3,
  window: 4,
  received: 5,
  direction: 6,
} as const;
export const SA_STATE_WORDS = 8;

/** Device-wide counters (Float64, written by the device only). */
export const DeviceStat = {
  saAdds: 0,
  saRemoves: 1,
  refusedCapacity: 2,
  refusedUntrusted: 3,
  refusedOther: 4,
  domainFlushes: 5,
  sasFlushed: 6,
  txProtected: 7,
  rxDecrypted: 8,
  txBypassNoPolicy: 9,
  txBypassUntrusted: 10,
  rxBypassUntrusted: 11,
  rxToHostNoSa: 12,
  rxNoDomain: 13,
  txSpoofDropped: 14,
  fragmentsDropped: 15,
  fragmentsToSoftware: 16,
  segmentedSends: 17,
  segmentsMade: 18,
  txDropped: 19,
  rxDropped: 20,
  policyAdds: 21,
  policyRemoves: 22,
  events: 23,
  eventsLost: 24,
  commands: 25,
} as const;
export type DeviceStatName = keyof typeof DeviceStat;
export const DEVICE_STATS = 32;

/** Packet ring ids in the pool's ledger. */
export const RingId = { hostTx: 1, wireOut: 2, wireIn: 3, hostRx: 4 } as const;

/** Descriptor stage bits (4-7 of the flags): what the host asks, and what the device did. */
export const Stage = {
  /** Host to device: a UDP send to cut into MSS-sized datagrams (the MSS is the slot's first u16). */
  segment: 1,
  /** Device to host or wire: the frame went through untouched (no SA, untrusted domain, fragment). */
  passed: 1,
  /** Device to host: decrypted by the device. */
  processed: 0,
} as const;

/** The VFs a device has: each has its own mailbox; packets carry the VF in the descriptor's port bits. */
export const MAX_VFS = 8;

export interface MailboxStorage {
  /** Slot indices, requester to device. */
  readonly requests: RingStorage;
  /** Slot indices, device to requester. */
  readonly responses: RingStorage;
  /** `slots` command slots of MAILBOX_SLOT_BYTES each. */
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
}

export interface EmulatorStorage {
  readonly capacity: number;
  readonly counters: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
  readonly device: SharedArrayBuffer;
  readonly pool: PoolStorage;
  readonly rings: Readonly<Record<keyof typeof RingId, RingStorage>>;
  /** The PF's mailbox (the host driver), then one per VF (a tenant's own driver). */
  readonly pf: MailboxStorage;
  readonly vfs: readonly MailboxStorage[];
  /** Device events: two words each (see event codec in mailbox.ts). */
  readonly events: RingStorage;
  readonly deviceDoorbell: SharedArrayBuffer;
  readonly hostDoorbell: SharedArrayBuffer;
  /** Int32: [0] stop request. */
  readonly control: SharedArrayBuffer;
}

export const MAILBOX_SLOT_BYTES = 8192;

export interface EmulatorSizes {
  readonly capacity: number;
  readonly vfs: number;
  readonly packetSlots?: number;
  readonly mailboxSlots?: number;
  readonly ringCapacity?: number;
}

export function createEmulatorStorage(sizes: EmulatorSizes): EmulatorStorage {
  const deviceDoorbell = createDoorbellStorage();
  const hostDoorbell = createDoorbellStorage();
  const ringCapacity = sizes.ringCapacity ?? 1024;
  const mailbox = (slots: number): MailboxStorage => ({
    requests: createRingStorage({ capacity: slots, entryWords: 1, doorbell: deviceDoorbell }),
    responses: createRingStorage({ capacity: slots, entryWords: 1, doorbell: hostDoorbell }),
    buffer: new SharedArrayBuffer(slots * MAILBOX_SLOT_BYTES),
    slots,
  });
  const mailboxSlots = sizes.mailboxSlots ?? 64;
  return {
    capacity: sizes.capacity,
    counters: new SharedArrayBuffer(sizes.capacity * SA_COUNTER_STRIDE * 8),
    state: new SharedArrayBuffer(sizes.capacity * SA_STATE_WORDS * 4),
    device: new SharedArrayBuffer(DEVICE_STATS * 8),
    pool: createPoolStorage({ slots: sizes.packetSlots ?? 2048, threads: 2 }),
    rings: {
      hostTx: createRingStorage({ capacity: ringCapacity, id: RingId.hostTx, doorbell: deviceDoorbell }),
      wireOut: createRingStorage({ capacity: ringCapacity, id: RingId.wireOut, doorbell: hostDoorbell }),
      wireIn: createRingStorage({ capacity: ringCapacity, id: RingId.wireIn, doorbell: deviceDoorbell }),
      hostRx: createRingStorage({ capacity: ringCapacity, id: RingId.hostRx, doorbell: hostDoorbell }),
    },
    pf: mailbox(mailboxSlots),
    vfs: Array.from({ length: sizes.vfs }, () => mailbox(8)),
    events: createRingStorage({ capacity: 4096, entryWords: 2, doorbell: hostDoorbell }),
    deviceDoorbell,
    hostDoorbell,
    control: new SharedArrayBuffer(64),
  };
}
