import { DESCRIPTOR_WORDS } from './descriptor.ts';
import { type PoolStorage, REGION_HEADER_BYTES, RegionField, stackCapacity } from './pool-layout.ts';
import { describeState, idOf, kindOf, SlotKind, slotState } from './slot-state.ts';
import { SpscRing } from './spsc-ring.ts';

export type AuditProblemKind =
  /** The ledger puts the slot in a free stack or a ring, but it is not there: nobody can reach it. */
  | 'leaked'
  /** The slot is in two places at once: a double free or a double send. */
  | 'duplicate'
  /** The slot is in one place and the ledger names another. */
  | 'mismatch'
  /** A free stack or ring holds an index that is not a slot. */
  | 'out-of-range';

export interface AuditProblem {
  readonly slot: number;
  readonly kind: AuditProblemKind;
  readonly detail: string;
}

export interface PoolAudit {
  /** Every slot accounted for exactly once, and no thread ever refused a bad free, send or receive. */
  readonly ok: boolean;
  readonly slots: number;
  /** Slots in free stacks and in refill / give-back rings. */
  readonly free: number;
  /** Slots in the descriptor rings audited. */
  readonly inRings: number;
  /** Slots held by each thread, index k. */
  readonly heldBy: readonly number[];
  readonly held: number;
  /** Frees refused because the thread did not hold the slot (double frees among them). */
  readonly badFrees: number;
  readonly badSends: number;
  /** Descriptors popped whose slot the ledger did not place in that ring. */
  readonly badReceives: number;
  /** Allocations that found no free slot. */
  readonly exhausted: number;
  readonly problemCount: number;
  /** The first 64 problems. */
  readonly problems: readonly AuditProblem[];
}

const MAX_LISTED = 64;

/**
 * Proves that every slot is in exactly one place: the free stacks, the pool's refill and give-back
 * rings and the descriptor rings `rings` are walked and compared with the ledger; a slot found nowhere
 * must be held by a thread. Exact only while every thread that uses the pool is stopped between
 * operations (a test's end, a paused pool); the slots of an exited thread should be reclaimed first.
 */
export function auditPool(storage: PoolStorage, rings: readonly SpscRing[]): PoolAudit {
  const { layout } = storage;
  const slots = layout.slots;
  const ledger = new Uint16Array(storage.ledger, 0, slots);
  const seen = new Uint8Array(slots);
  const foundAs = new Int32Array(slots).fill(-1);
  const problems: AuditProblem[] = [];
  let problemCount = 0;
  const report = (slot: number, kind: AuditProblemKind, detail: string) => {
    problemCount++;
    if (problems.length < MAX_LISTED) problems.push({ slot, kind, detail });
  };
  const visit = (slot: number, expected: number, where: string) => {
    if (slot >= slots) {
      report(slot, 'out-of-range', `${where} holds ${slot}, beyond ${slots} slots`);
      return;
    }
    if (++seen[slot]! > 1) {
      report(slot, 'duplicate', `also found in ${where} (first as ${describeState(foundAs[slot]!)})`);
      return;
    }
    foundAs[slot] = expected;
  };

  let badFrees = 0;
  let badSends = 0;
  let badReceives = 0;
  let exhausted = 0;
  for (let k = 0; k < layout.threads; k++) {
    const region = layout.regionOffsets[k]!;
    const header = new Int32Array(storage.ledger, region, REGION_HEADER_BYTES / 4);
    const stack = new Uint32Array(storage.ledger, region + REGION_HEADER_BYTES, stackCapacity(layout, k));
    const count = header[RegionField.count]!;
    for (let i = 0; i < count; i++) visit(stack[i]!, slotState(SlotKind.cached, k), `free stack ${k}`);
    badFrees += header[RegionField.badFrees]!;
    badSends += header[RegionField.badSends]!;
    badReceives += header[RegionField.badReceives]!;
    exhausted += header[RegionField.exhausted]!;
  }

  const walk = (ring: SpscRing, expected: number, where: string) => {
    const words = new Uint32Array(ring.capacity * ring.entryWords);
    const n = ring.peek(words);
    for (let i = 0; i < n; i++) visit(words[i * ring.entryWords]! & 0x00ff_ffff, expected, where);
  };
  for (let k = 1; k < layout.threads; k++) {
    const refill = storage.refill[k];
    const giveBack = storage.giveBack[k];
    if (refill) walk(new SpscRing(refill), slotState(SlotKind.refill, k), `refill ring ${k}`);
    if (giveBack) walk(new SpscRing(giveBack), slotState(SlotKind.giveBack, k), `give-back ring ${k}`);
  }
  for (const ring of rings) {
    if (ring.entryWords !== DESCRIPTOR_WORDS) continue;
    walk(ring, slotState(SlotKind.ring, ring.id), `descriptor ring ${ring.id}`);
  }

  const heldBy = new Array<number>(layout.threads).fill(0);
  let free = 0;
  let inRings = 0;
  for (let slot = 0; slot < slots; slot++) {
    const state = ledger[slot]!;
    const times = seen[slot]!;
    if (times === 0) {
      if (kindOf(state) === SlotKind.held && idOf(state) < layout.threads) heldBy[idOf(state)]!++;
      else report(slot, 'leaked', `ledger says ${describeState(state)}, found nowhere`);
    } else if (times === 1) {
      if (state !== foundAs[slot]) {
        report(
          slot,
          'mismatch',
          `found as ${describeState(foundAs[slot]!)}, ledger says ${describeState(state)}`,
        );
      } else if (kindOf(state) === SlotKind.ring) inRings++;
      else free++;
    }
  }
  const held = heldBy.reduce((a, b) => a + b, 0);
  return {
    ok: problemCount === 0 && badFrees === 0 && badSends === 0 && badReceives === 0,
    slots,
    free,
    inRings,
    heldBy,
    held,
    badFrees,
    badSends,
    badReceives,
    exhausted,
    problemCount,
    problems,
  };
}
