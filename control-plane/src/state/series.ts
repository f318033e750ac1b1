import { dropReasonCount } from '@espresso/counters';

/** Counters of one metrics series: an SA name, or a reqid that its rekeyed SAs share. */
export interface SeriesTotals {
  readonly series: string;
  readonly direction: 'in' | 'out';
  packets: number;
  bytes: number;
  readonly drops: number[];
}

/** The series an SA's counters belong to: its reqid when it has one (so rekeys continue it), else its name. */
export function seriesKey(sa: { readonly name: string; readonly reqid: number | null }): string {
  return sa.reqid === null ? sa.name : `reqid:${sa.reqid}`;
}

/**
 * Counters of deleted SAs, kept per series and direction, so a Prometheus series stays monotonic when
 * the SA behind it is rekeyed or deleted and re-added.
 */
export class RetiredCounters {
  readonly #totals = new Map<string, SeriesTotals>();

  add(
    series: string,
    direction: 'in' | 'out',
    packets: number,
    bytes: number,
    drops: readonly number[],
  ): void {
    const totals = this.#entry(series, direction);
    totals.packets += packets;
    totals.bytes += bytes;
    for (let i = 0; i < drops.length && i < totals.drops.length; i++) totals.drops[i]! += drops[i] ?? 0;
  }

  /** Copies of the retired totals, to which live SAs' counters can be added. */
  snapshot(): Map<string, SeriesTotals> {
    const copy = new Map<string, SeriesTotals>();
    for (const [key, t] of this.#totals) copy.set(key, { ...t, drops: [...t.drops] });
    return copy;
  }

  #entry(series: string, direction: 'in' | 'out'): SeriesTotals {
    const key = `${direction}\u0000${series}`;
    let totals = this.#totals.get(key);
    if (totals === undefined) {
      totals = { series, direction, packets: 0, bytes: 0, drops: new Array<number>(dropReasonCount).fill(0) };
      this.#totals.set(key, totals);
    }
    return totals;
  }
}
