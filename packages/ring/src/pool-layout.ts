import { DescriptorLimit } from './descriptor.ts';
import { integerIn, RingConfigError, RingErrorCode } from './errors.ts';
import { MAX_LEDGER_ID, SlotKind, slotState } from './slot-state.ts';
import { createRingStorage, type RingStorage } from './spsc-ring.ts';

export interface PoolOptions {
  /** Packet slots in the pool. */
  slots: number;
  /** Threads that use the pool, the owner (thread 0) included. */
  threads: number;
  /** Largest packet a slot holds between headroom and tailroom: 1500 by default, 9000 for jumbo frames. */
  mtu?: number;
  /** Bytes before the packet for outer headers (IPv6 40 + UDP 8 + ESP 8 + IV 16 needs 72): default 128. */
  headroom?: number;
  /** Bytes after the packet for ESP padding, pad length, next header and ICV: default 64. */
  tailroom?: number;
  /** Capacity of each worker's free stack: default 256. */
  workerCache?: number;
  /** Slots moved per refill or give-back: default 64. */
  transferBatch?: number;
  /** Free slots the owner keeps waiting in each worker's refill ring: default 128. */
  refillTarget?: number;
}

/** The resolved numbers every view derives its typed arrays from. */
export interface PoolLayout {
  readonly slots: number;
  readonly threads: number;
  readonly mtu: number;
  readonly headroom: number;
  readonly tailroom: number;
  /** headroom + mtu + tailroom, rounded up to a 64-byte cache line. */
  readonly slotSize: number;
  readonly workerCache: number;
  readonly transferBatch: number;
  readonly refillTarget: number;
  /** Byte offset of thread k's region in the ledger buffer. */
  readonly regionOffsets: readonly number[];
  readonly ledgerBytes: number;
}

/**
 * Everything a thread needs to open its view of the pool; plain data for workerData / postMessage.
 * `refill[k]` (owner to thread k) and `giveBack[k]` (thread k to owner) are null for k = 0.
 */
export interface PoolStorage {
  readonly layout: PoolLayout;
  /** The slots: slot s occupies bytes [s * slotSize, (s + 1) * slotSize). */
  readonly data: SharedArrayBuffer;
  /** Ledger (u16 per slot) then one region per thread: header and free stack. */
  readonly ledger: SharedArrayBuffer;
  readonly refill: readonly (RingStorage | null)[];
  readonly giveBack: readonly (RingStorage | null)[];
}

/**
 * A thread's region: Int32 header (one 64-byte line) then its free stack of u32 slot indices. The
 * header and stack are written only by their thread (and by the owner reclaiming a dead thread).
 */
export const RegionField = {
  count: 0,
  badFrees: 1,
  badSends: 2,
  badReceives: 3,
  exhausted: 4,
} as const;
export const REGION_HEADER_BYTES = 64;

const LINE = 128;
const alignTo = (n: number, a: number) => Math.ceil(n / a) * a;

export function poolLayout(options: PoolOptions): PoolLayout {
  const slots = integerIn('slots', options.slots, 1, DescriptorLimit.maxSlots);
  const threads = integerIn('threads', options.threads, 1, MAX_LEDGER_ID + 1);
  const headroom = integerIn('headroom', options.headroom ?? 128, 80, 4096);
  const tailroom = integerIn('tailroom', options.tailroom ?? 64, 18, 4096);
  const mtu = integerIn('mtu', options.mtu ?? 1500, 68, DescriptorLimit.maxLength - headroom - tailroom);
  const slotSize = alignTo(headroom + mtu + tailroom, 64);
  if (slotSize > DescriptorLimit.maxOffset + 1) {
    throw new RingConfigError(
      RingErrorCode.invalidConfig,
      'mtu',
      'slot would exceed the 64 KiB a descriptor addresses',
    );
  }
  const transferBatch = integerIn('transferBatch', options.transferBatch ?? 64, 1, 4096);
  const workerCache = integerIn('workerCache', options.workerCache ?? 256, 2 * transferBatch, 1 << 20);
  const refillTarget = integerIn('refillTarget', options.refillTarget ?? 128, transferBatch, 1 << 20);

  const regionOffsets: number[] = [];
  let offset = alignTo(slots * 2, LINE);
  for (let k = 0; k < threads; k++) {
    regionOffsets.push(offset);
    const stackEntries = k === 0 ? slots : workerCache;
    offset += alignTo(REGION_HEADER_BYTES + stackEntries * 4, LINE);
  }
  return {
    slots,
    threads,
    mtu,
    headroom,
    tailroom,
    slotSize,
    workerCache,
    transferBatch,
    refillTarget,
    regionOffsets,
    ledgerBytes: offset,
  };
}

export function stackCapacity(layout: PoolLayout, thread: number): number {
  return thread === 0 ? layout.slots : layout.workerCache;
}

/**
 * Allocates the pool once, on the owner: every slot starts free in the owner's master list. Other
 * threads receive the returned storage and open their own view with `new PacketPool(storage, k)`.
 */
export function createPoolStorage(options: PoolOptions): PoolStorage {
  const layout = poolLayout(options);
  let data: SharedArrayBuffer;
  try {
    data = new SharedArrayBuffer(layout.slots * layout.slotSize);
  } catch {
    throw new RingConfigError(
      RingErrorCode.invalidConfig,
      'slots',
      `cannot allocate ${layout.slots} slots of ${layout.slotSize} bytes`,
    );
  }
  const ledgerBuffer = new SharedArrayBuffer(layout.ledgerBytes);
  const ledger = new Uint16Array(ledgerBuffer, 0, layout.slots);
  ledger.fill(slotState(SlotKind.cached, 0));
  const ownerRegion = layout.regionOffsets[0]!;
  const masterStack = new Uint32Array(ledgerBuffer, ownerRegion + REGION_HEADER_BYTES, layout.slots);
  // Slot 0 on top, so a fresh pool hands out slots in index order.
  for (let i = 0; i < layout.slots; i++) masterStack[i] = layout.slots - 1 - i;
  new Int32Array(ledgerBuffer, ownerRegion, REGION_HEADER_BYTES / 4)[RegionField.count] = layout.slots;

  const refill: (RingStorage | null)[] = [null];
  const giveBack: (RingStorage | null)[] = [null];
  for (let k = 1; k < layout.threads; k++) {
    refill.push(createRingStorage({ capacity: layout.refillTarget, entryWords: 1 }));
    // Room for every slot: a worker's give-back never finds the ring full.
    giveBack.push(createRingStorage({ capacity: layout.slots, entryWords: 1 }));
  }
  return { layout, data, ledger: ledgerBuffer, refill, giveBack };
}
