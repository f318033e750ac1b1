import type { FragmentPolicy } from './capabilities.ts';
import type { DriverStats } from './driver.ts';
import type { OffloadErrorCode, OffloadResult } from './result.ts';

/** The counters every driver keeps the same way: operations done and refusals by code. */
export class DriverCounters {
  saAdds = 0;
  saRemoves = 0;
  policyAdds = 0;
  policyRemoves = 0;
  fragmentsHandled = 0;
  readonly refused: Partial<Record<OffloadErrorCode, number>> = {};

  /** Counts a refusal, if `result` is one, and hands the result back. */
  count<T>(result: OffloadResult<T>): OffloadResult<T> {
    if (!result.ok) this.refused[result.error.code] = (this.refused[result.error.code] ?? 0) + 1;
    return result;
  }

  snapshot(
    sas: number,
    policies: number,
    fragments: FragmentPolicy,
    extra: Readonly<Record<string, number>> = {},
  ): DriverStats {
    return {
      sas,
      policies,
      saAdds: this.saAdds,
      saRemoves: this.saRemoves,
      policyAdds: this.policyAdds,
      policyRemoves: this.policyRemoves,
      refused: { ...this.refused },
      fragments: { policy: fragments, handled: this.fragmentsHandled },
      extra,
    };
  }
}
