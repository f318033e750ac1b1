import type { GroupResourceKind, SaBinding } from '@espresso/sad';

export interface OwnerQuestion {
  readonly direction: 'in' | 'out';
  readonly spi: number;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
  /** The IP-TFS congestion-control pair the SA belongs to (`iptfs.congestionPair`), or null. */
  readonly congestionPair: string | null;
}

/** An SA's IP-TFS congestion pair label: set only where the SA runs congestion control in iptfs mode. */
export function congestionPairOf(config: {
  readonly mode?: string;
  readonly iptfs?: { readonly congestionControl?: boolean; readonly congestionPair?: string };
}): string | null {
  if (config.mode !== 'iptfs' || config.iptfs?.congestionControl !== true) return null;
  return config.iptfs.congestionPair ?? null;
}

/**
 * Which worker owns a new SA instance (DESIGN invariant 1). An inbound SA whose SPI is already steered
 * (the same SPI in another SAD domain) goes to that worker, since io steers by SPI alone. A member of a
 * per-worker SA group belongs to the worker it serves (resource mod workers). An SA of an IP-TFS
 * congestion pair goes where the other SA of its pair already is (`pairedWith`: its owner, or -1), since
 * the pair shares one congestion control, which lives in one worker's memory (RFC 9347 §6: the inbound
 * SA measures the loss the outbound SA reports). Any other SA goes to the worker that owns the fewest,
 * the lowest index on a tie.
 */
export function chooseOwner(
  question: OwnerQuestion,
  workers: number,
  owned: readonly number[],
  steeredTo: (spi: number) => number,
  pairedWith: (label: string) => number = () => -1,
): number {
  if (question.direction === 'in') {
    const steered = steeredTo(question.spi);
    if (steered >= 0) return steered;
  }
  const binding = question.binding;
  if (question.resourceKind === 'worker' && binding !== null && 'resource' in binding) {
    return binding.resource % workers;
  }
  if (question.congestionPair !== null) {
    const partner = pairedWith(question.congestionPair);
    if (partner >= 0) return partner;
  }
  let best = 0;
  for (let w = 1; w < workers; w++) if (owned[w]! < owned[best]!) best = w;
  return best;
}
