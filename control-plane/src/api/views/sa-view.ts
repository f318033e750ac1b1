import type { SaInstalled, SaView } from '@espresso/api';
import { dropReasonName } from '@espresso/counters';
import { defaultHardPacketLimit } from '@espresso/esp';
import {
  espSaAdapter,
  type LifetimeLimits,
  remaining,
  type SaCounters,
  type SaRecord,
  type StoredSaConfig,
} from '@espresso/sad';
import type { ControlPlane } from '../../state/control-plane.ts';
import { algorithmName, icvBytesOf } from '../../state/sa-preparation.ts';
import { saPlacement } from './placement-view.ts';

export function spiHex(spi: number): string {
  return `0x${spi.toString(16).padStart(8, '0')}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Drops by reason name, only the reasons that occurred. */
export function dropsByReason(drops: readonly number[]): { total: number; byReason: Record<string, number> } {
  let total = 0;
  const byReason: Record<string, number> = {};
  for (let code = 0; code < drops.length; code++) {
    const count = drops[code] as number;
    if (count > 0) {
      total += count;
      byReason[dropReasonName(code)] = count;
    }
  }
  return { total, byReason };
}

export function countersView(c: SaCounters): NonNullable<SaView['counters']> {
  const drops = dropsByReason(c.drops);
  return {
    packets: c.packets,
    bytes: c.bytes,
    drops: drops.total,
    dropsByReason: drops.byReason,
    firstUsedAt: c.firstUsedAt === null ? null : iso(c.firstUsedAt),
    nextSequence: c.nextSequence.toString(),
    replay:
      c.replay === null
        ? null
        : { window: c.replay.window, top: c.replay.top.toString(), received: c.replay.received },
    // Instances on an offload device have no worker (the datapath contract says -1).
    worker: c.worker < 0 ? null : c.worker,
  };
}

/** The hard limits the datapath applies, including the default packet limit that comes from the ICV length. */
function effectiveHard(config: StoredSaConfig, hard: LifetimeLimits): LifetimeLimits {
  if (hard.packets !== undefined) return hard;
  const limit = defaultHardPacketLimit(icvBytesOf(config));
  return Number.isFinite(limit) ? { ...hard, packets: limit } : hard;
}

export function installedView(sa: SaRecord<StoredSaConfig>): SaInstalled {
  return {
    name: sa.name,
    spi: sa.identity.spi,
    spiHex: spiHex(sa.identity.spi),
    direction: sa.identity.direction,
    state: sa.state,
    keyFingerprint: sa.fingerprint,
  };
}

export function saView(cp: ControlPlane, sa: SaRecord<StoredSaConfig>): SaView {
  const c = cp.saCounters(sa.name);
  const now = cp.clock();
  const usage = {
    packets: c?.packets ?? 0,
    bytes: c?.bytes ?? 0,
    addedAt: sa.addedAt,
    firstUsedAt: c?.firstUsedAt ?? null,
  };
  const limits = espSaAdapter.lifetimes(sa.config);
  const addedAt = iso(sa.addedAt);
  return {
    name: sa.name,
    spi: sa.identity.spi,
    spiHex: spiHex(sa.identity.spi),
    direction: sa.identity.direction,
    domain: sa.identity.domain,
    state: sa.state,
    reqid: sa.reqid,
    binding: sa.binding,
    keyFingerprint: sa.fingerprint,
    algorithm: algorithmName(sa.config),
    addedAt,
    resumedAbove: sa.resumedAbove === null ? null : sa.resumedAbove.toString(),
    generation: sa.generation,
    config: sa.config,
    counters: c === undefined ? null : countersView(c),
    lifetimeLeft: {
      soft: remaining(limits.soft, usage, now),
      hard: remaining(effectiveHard(sa.config, limits.hard), usage, now),
    },
    placement: saPlacement(cp, sa, addedAt),
  };
}
