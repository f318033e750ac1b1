import type { StoredSaConfig } from '@espresso/sad';
import type { SaProgress } from '../shared/sa-progress.ts';
import type { SaEntry } from './sa-registry.ts';

/** The number an SA instance starts from when it is first installed: next outbound, or replay top. */
export function initialProgress(config: StoredSaConfig): bigint {
  return config.direction === 'out'
    ? BigInt(config.initialSequence ?? '1')
    : BigInt(config.initialReplay?.top ?? '0');
}

/**
 * The configuration an SA instance resumes with on a replacement worker (DESIGN invariant 2). Outbound:
 * the last next-sequence its owner published plus the margin, since the owner may have used up to
 * publishEvery + budget numbers past its last publication. Inbound: the published replay top, with
 * everything at or below it treated as received; the owner publishes it before it delivers a batch, so
 * no delivered packet can be accepted twice.
 */
export function resumedConfig(entry: SaEntry, progress: SaProgress, margin: number): StoredSaConfig {
  const published = progress.read(entry.placement.slot);
  const config = entry.config;
  if (config.direction === 'out') {
    const next = published + BigInt(margin);
    const initial = initialProgress(config);
    return { ...config, initialSequence: (next > initial ? next : initial).toString() };
  }
  const initial = initialProgress(config);
  return { ...config, initialReplay: { top: (published > initial ? published : initial).toString() } };
}
