import type { GroupResourceKind, SaBinding } from '@espresso/sad';

export interface OwnerQuestion {
  readonly direction: 'in' | 'out';
  readonly spi: number;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
}

/**
 * Which worker owns a new SA instance (DESIGN invariant 1). A member of a per-worker SA group belongs
 * to the worker it serves (resource mod workers). An inbound SA whose SPI is already steered (the same
 * SPI in another SAD domain) goes to that worker, since io steers by SPI alone. Any other SA goes to the
 * worker that owns the fewest, the lowest index on a tie.
 */
export function chooseOwner(
  question: OwnerQuestion,
  workers: number,
  owned: readonly number[],
  steeredTo: (spi: number) => number,
): number {
  if (question.direction === 'in') {
    const steered = steeredTo(question.spi);
    if (steered >= 0) return steered;
  }
  const binding = question.binding;
  if (question.resourceKind === 'worker' && binding !== null && 'resource' in binding) {
    return binding.resource % workers;
  }
  let best = 0;
  for (let w = 1; w < workers; w++) if (owned[w]! < owned[best]!) best = w;
  return best;
}
