/** One figure measured for every forwarder. */
export interface Figure {
  readonly name: string;
  readonly unit: string;
  /** Whether a larger value is better (throughput) or a smaller one (CPU per unit of work). */
  readonly better: 'higher' | 'lower';
  /** Value per forwarder name; NaN where it could not be measured. */
  readonly values: Readonly<Record<string, number>>;
}

export interface FigureVerdict {
  readonly figure: Figure;
  readonly subject: number;
  /** The better of the others on this figure, and whose it is. */
  readonly best: number;
  readonly bestName: string;
  /** subject / best for higher-is-better, best / subject for lower: at least 1 means it matches or beats it. */
  readonly ratio: number;
  readonly pass: boolean;
}

/**
 * Compares `subject` with the better of the other forwarders on each figure. A figure the subject has
 * no value for misses; one none of the others has passes with ratio NaN only if the subject has one.
 */
export function compare(figures: readonly Figure[], subject: string): FigureVerdict[] {
  return figures.map((figure) => {
    const mine = figure.values[subject] ?? Number.NaN;
    let best = Number.NaN;
    let bestName = '-';
    for (const [name, value] of Object.entries(figure.values)) {
      if (name === subject || !Number.isFinite(value)) continue;
      const better = Number.isNaN(best) || (figure.better === 'higher' ? value > best : value < best);
      if (better) {
        best = value;
        bestName = name;
      }
    }
    let ratio = Number.NaN;
    if (Number.isFinite(mine) && Number.isFinite(best)) {
      ratio = figure.better === 'higher' ? mine / best : mine === 0 ? Number.POSITIVE_INFINITY : best / mine;
    }
    const pass = Number.isFinite(mine) && (Number.isNaN(best) || ratio >= 1);
    return { figure, subject: mine, best, bestName, ratio, pass };
  });
}
