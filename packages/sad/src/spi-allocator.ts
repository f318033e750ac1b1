import { randomInt } from 'node:crypto';
import type { Clock } from './clock.ts';
import { SadError } from './errors.ts';

export interface SpiRange {
  readonly min: number;
  readonly max: number;
}

/** SPIs 1..255 are reserved by IANA (RFC 4303 §2.1) and 0 is never valid. */
export const defaultSpiRange: SpiRange = { min: 0x100, max: 0xffff_ffff };

export interface SpiAllocatorOptions {
  readonly range?: SpiRange;
  /** How long an allocated SPI stays reserved without an SA claiming it. */
  readonly unusedTimeoutMs?: number;
  readonly clock: Clock;
}

export interface SpiReservation {
  readonly spi: number;
  readonly domain: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

const claimed = Number.POSITIVE_INFINITY;
const randomTries = 64;

export function checkSpiRange(range: SpiRange, path = ''): void {
  const ok =
    Number.isInteger(range.min) && Number.isInteger(range.max) && range.min >= 1 && range.max <= 0xffff_ffff;
  if (!ok || range.min > range.max) {
    throw new SadError('invalid', 'SPI range must satisfy 1 <= min <= max <= 0xffffffff', path);
  }
}

/**
 * Hands out inbound SPIs (what the kernel's XFRM_MSG_ALLOCSPI does): random within a range, unique per
 * SAD domain against both installed inbound SAs and outstanding reservations. A reservation that no SA
 * claims within the unused timeout lapses and its SPI may be handed out again.
 */
export class SpiAllocator {
  #range: SpiRange;
  #unusedTimeoutMs: number;
  readonly #clock: Clock;
  /** domain -> spi -> expiry time, or +Infinity once an SA holds it. */
  readonly #taken = new Map<number, Map<number, number>>();

  constructor(options: SpiAllocatorOptions) {
    this.#range = options.range ?? defaultSpiRange;
    checkSpiRange(this.#range);
    this.#unusedTimeoutMs = options.unusedTimeoutMs ?? 30_000;
    this.#clock = options.clock;
  }

  get range(): SpiRange {
    return this.#range;
  }

  get unusedTimeoutMs(): number {
    return this.#unusedTimeoutMs;
  }

  configure(range: SpiRange, unusedTimeoutMs: number): void {
    checkSpiRange(range);
    this.#range = range;
    this.#unusedTimeoutMs = unusedTimeoutMs;
  }

  /** Reserve a free SPI in `range` (default: the allocator's) for `domain`. */
  allocate(domain: number, range: SpiRange = this.#range, timeoutMs = this.#unusedTimeoutMs): SpiReservation {
    checkSpiRange(range, '/range');
    if (range.min < this.#range.min || range.max > this.#range.max) {
      throw new SadError(
        'invalid',
        `SPI range must lie within the configured range ${hex(this.#range.min)}-${hex(this.#range.max)}`,
        '/range',
      );
    }
    const spi = this.#pickFree(domain, range);
    const expiresAt = this.#clock() + timeoutMs;
    this.#domain(domain).set(spi, expiresAt);
    return { spi, domain, expiresAt };
  }

  isTaken(domain: number, spi: number): boolean {
    return this.#taken.get(domain)?.has(spi) ?? false;
  }

  isReserved(domain: number, spi: number): boolean {
    const at = this.#taken.get(domain)?.get(spi);
    return at !== undefined && at !== claimed;
  }

  /** An inbound SA now holds `spi`: the reservation (if any) becomes permanent until released. */
  claim(domain: number, spi: number): void {
    this.#domain(domain).set(spi, claimed);
  }

  release(domain: number, spi: number): boolean {
    const spis = this.#taken.get(domain);
    const had = spis?.delete(spi) ?? false;
    if (spis !== undefined && spis.size === 0) this.#taken.delete(domain);
    return had;
  }

  reservations(): SpiReservation[] {
    const out: SpiReservation[] = [];
    for (const [domain, spis] of this.#taken) {
      for (const [spi, expiresAt] of spis) if (expiresAt !== claimed) out.push({ spi, domain, expiresAt });
    }
    return out;
  }

  /** Drop reservations whose time ran out; returns them. */
  sweep(now = this.#clock()): SpiReservation[] {
    const lapsed: SpiReservation[] = [];
    for (const [domain, spis] of this.#taken) {
      for (const [spi, expiresAt] of spis) {
        if (expiresAt <= now) {
          spis.delete(spi);
          lapsed.push({ spi, domain, expiresAt });
        }
      }
      if (spis.size === 0) this.#taken.delete(domain);
    }
    return lapsed;
  }

  #domain(domain: number): Map<number, number> {
    let spis = this.#taken.get(domain);
    if (spis === undefined) {
      spis = new Map();
      this.#taken.set(domain, spis);
    }
    return spis;
  }

  #pickFree(domain: number, range: SpiRange): number {
    const spis = this.#taken.get(domain);
    const size = range.max - range.min + 1;
    for (let i = 0; i < randomTries; i++) {
      const spi = range.min + randomBelow(size);
      if (spis === undefined || !spis.has(spi)) return spi;
    }
    // A crowded range: walk it from a random point so the answer is still found when one SPI is left.
    const start = randomBelow(size);
    for (let i = 0; i < size; i++) {
      const spi = range.min + ((start + i) % size);
      if (spis === undefined || !spis.has(spi)) return spi;
    }
    throw new SadError('exhausted', `no free SPI in ${hex(range.min)}-${hex(range.max)}`, '/range');
  }
}

function randomBelow(size: number): number {
  return size === 1 ? 0 : randomInt(size);
}

export function hex(spi: number): string {
  return `0x${spi.toString(16).padStart(8, '0')}`;
}
