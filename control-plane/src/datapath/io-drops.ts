import type { DatapathStats } from '@espresso/sad';

/**
 * Statistics of a datapath whose io loop drops packets of its own (the worker pool's: reassembly, socket
 * errors, keepalives consumed, no outside path, ...), by DropReason code, apart from the workers' drops.
 */
export interface DatapathStatsWithIo extends DatapathStats {
  readonly ioDrops: readonly number[];
}

/**
 * io's drops when the datapath reports them. DatapathStats has no such field, so it is read by shape: the
 * offload placement manager answers its software datapath's statistics object as it is, field included.
 */
export function ioDropsOf(stats: DatapathStats): readonly number[] {
  const drops = (stats as Partial<DatapathStatsWithIo>).ioDrops;
  return Array.isArray(drops) ? drops : [];
}
