/**
 * The ownership ledger: one u16 per slot saying who is answerable for it. Exactly one party at a time:
 * a thread's free stack, a thread's hands, or a ring in transit. The holder writes the entry; a
 * producer writes RING/REFILL/RETURN before it publishes the ring's write index, and the consumer writes
 * the next state after it has popped, so every write is ordered after the previous one by the ring's
 * atomics and the ledger has one writer per slot at a time.
 *
 * ```
 * 15 .. 12 11 ................ 0
 * |  kind  |  thread or ring id |
 * ```
 */
export const SlotKind = {
  /** Never initialised: no slot is in this state once the pool is created. */
  unset: 0,
  /** Free, in thread k's free stack (k = 0: the owner's master free list). */
  cached: 1,
  /** Allocated, held by thread k. */
  held: 2,
  /** Allocated, in descriptor ring r (answerable: r's consumer, once it pops). */
  ring: 3,
  /** Free, in transit from the owner to thread k. */
  refill: 4,
  /** Free, in transit from thread k back to the owner. */
  giveBack: 5,
} as const;
export type SlotKind = (typeof SlotKind)[keyof typeof SlotKind];

export const MAX_LEDGER_ID = 0xfff;

export function slotState(kind: SlotKind, id: number): number {
  return (kind << 12) | id;
}

export function kindOf(state: number): number {
  return state >>> 12;
}

export function idOf(state: number): number {
  return state & MAX_LEDGER_ID;
}

const kindNames = ['unset', 'cached', 'held', 'ring', 'refill', 'give-back'];

export function describeState(state: number): string {
  return `${kindNames[kindOf(state)] ?? `kind-${kindOf(state)}`}(${idOf(state)})`;
}
