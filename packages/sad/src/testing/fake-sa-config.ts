import { SadError } from '../errors.ts';
import type { Lifetimes } from '../lifetime.ts';
import type { SaConfigAdapter, SaInput, SaKeys } from '../sa-record.ts';

/** A minimal SA configuration for testing the SAD apart from the ESP schema. */
export interface FakeConfig {
  readonly direction: 'in' | 'out';
  readonly spi: number;
  readonly domain: number;
  readonly next: bigint;
  readonly remote: string;
  readonly encap: { readonly sourcePort: number; readonly destinationPort: number } | null;
  readonly lifetimes: Lifetimes;
}

export const fakeAdapter: SaConfigAdapter<FakeConfig> = {
  identity: (c) => ({ direction: c.direction, spi: c.spi, domain: c.domain }),
  lifetimes: (c) => c.lifetimes,
  nextSequence: (c) => c.next,
  withNextSequence: (c, next) => ({ ...c, next }),
  withLifetimes: (c, lifetimes) => ({ ...c, lifetimes }),
  withMarks: (c) => c,
  migrate(c, m) {
    if (m.remoteAddress !== undefined && m.remoteAddress.includes(':') !== c.remote.includes(':')) {
      throw new SadError('invalid', 'address family cannot change', '/migration/remoteAddress');
    }
    return {
      ...c,
      remote: m.remoteAddress ?? c.remote,
      encap: m.encap === undefined ? c.encap : m.encap,
    };
  },
  equal: (a, b) =>
    JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)) ===
    JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
};

export function fakeKeys(seed: number): SaKeys {
  return { encryptionKey: new Uint8Array(36).fill(seed), integrityKey: new Uint8Array(0) };
}

export function fakeInput(
  name: string,
  config: Partial<FakeConfig> = {},
  extra: Partial<SaInput<FakeConfig>> = {},
): SaInput<FakeConfig> {
  return {
    name,
    config: {
      direction: 'in',
      spi: 0x1000,
      domain: 0,
      next: 1n,
      remote: '192.0.2.1',
      encap: null,
      lifetimes: { soft: {}, hard: {} },
      ...config,
    },
    keys: fakeKeys(1),
    ...extra,
  };
}
