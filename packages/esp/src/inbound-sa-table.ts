import { DropReason } from '@espresso/counters';
import { readU32 } from '@espresso/wire';
import type { SaRuntime } from './sa-runtime.ts';

const TWO_32 = 4294967296;

/**
 * The inbound SAD of one worker: SAs found by SAD domain + SPI, then destination address, then (for
 * SAs that ask for it) source address, the longest match winning (RFC 4301 §4.1). Equal SPIs in
 * different domains never meet. Only ESP is looked up here, so the protocol is implied.
 */
export class InboundSaTable {
  /** Why the last `lookup` found nothing: noState, or unknownSpiDomain when the SPI exists in another domain. */
  lastMiss: number = DropReason.noState;
  private readonly byKey = new Map<number, SaRuntime[]>();
  /** The last SA found: batches mostly carry one SA, so most lookups stop here. */
  private last: SaRuntime | null = null;
  /** How many SAs hold each SPI, over all domains. */
  private readonly spiCount = new Map<number, number>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds an inbound SA; refuses one that would be indistinguishable from an SA already there. */
  add(sa: SaRuntime): void {
    if (sa.direction !== 'in') throw new RangeError('only inbound SAs go in the inbound SA table');
    const key = sa.domain * TWO_32 + sa.spi;
    const list = this.byKey.get(key) ?? [];
    for (const other of list) {
      if (
        other.outerVersion === sa.outerVersion &&
        sameWords(other.localWords, sa.localWords) &&
        other.matchSource === sa.matchSource &&
        (!sa.matchSource || sameWords(other.peerWords, sa.peerWords))
      ) {
        throw new RangeError(
          `an inbound SA with SPI 0x${sa.spi.toString(16)} and these addresses is already installed in domain ${sa.domain}`,
        );
      }
    }
    list.push(sa);
    this.byKey.set(key, list);
    this.last = null;
    this.spiCount.set(sa.spi, (this.spiCount.get(sa.spi) ?? 0) + 1);
    this.count++;
  }

  remove(sa: SaRuntime): boolean {
    const key = sa.domain * TWO_32 + sa.spi;
    const list = this.byKey.get(key);
    const at = list?.indexOf(sa) ?? -1;
    if (list === undefined || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.byKey.delete(key);
    if (this.last === sa) this.last = null;
    const n = (this.spiCount.get(sa.spi) ?? 1) - 1;
    if (n === 0) this.spiCount.delete(sa.spi);
    else this.spiCount.set(sa.spi, n);
    this.count--;
    return true;
  }

  /** Removes every SA of a domain and returns them (the caller destroys them, zeroing their keys). */
  removeDomain(domain: number): SaRuntime[] {
    const removed: SaRuntime[] = [];
    for (const list of [...this.byKey.values()]) {
      for (const sa of [...list]) {
        if (sa.domain === domain && this.remove(sa)) removed.push(sa);
      }
    }
    return removed;
  }

  /** Every SA in the table. */
  all(): SaRuntime[] {
    return [...this.byKey.values()].flat();
  }

  /**
   * The SA for an ESP packet with this SPI whose outer header (version `version`) has its destination
   * address at `dstOffset` and source at `srcOffset` in `buf`; null (and `lastMiss`) if none.
   */
  lookup(
    domain: number,
    spi: number,
    version: 4 | 6,
    buf: Uint8Array,
    dstOffset: number,
    srcOffset: number,
  ): SaRuntime | null {
    const last = this.last;
    if (
      last !== null &&
      last.spi === spi &&
      last.domain === domain &&
      last.outerVersion === version &&
      wordsAt(buf, dstOffset, version, last.localWords) &&
      (!last.matchSource || wordsAt(buf, srcOffset, version, last.peerWords))
    ) {
      return last;
    }
    const list = this.byKey.get(domain * TWO_32 + spi);
    if (list !== undefined) {
      // Only an SA alone under its key is cached: with siblings the longest match is worked out each time.
      if (list.length === 1) this.last = list[0]!;
      let fallback: SaRuntime | null = null;
      for (let i = 0; i < list.length; i++) {
        const sa = list[i]!;
        if (sa.outerVersion !== version || !wordsAt(buf, dstOffset, version, sa.localWords)) continue;
        if (!sa.matchSource) {
          fallback ??= sa;
        } else if (wordsAt(buf, srcOffset, version, sa.peerWords)) {
          return sa;
        }
      }
      if (fallback !== null) return fallback;
    }
    this.lastMiss =
      list === undefined && this.spiCount.has(spi) ? DropReason.unknownSpiDomain : DropReason.noState;
    return null;
  }
}

function wordsAt(buf: Uint8Array, offset: number, version: 4 | 6, words: Uint32Array): boolean {
  if (version === 4) return readU32(buf, offset) === words[3];
  return (
    readU32(buf, offset) === words[0] &&
    readU32(buf, offset + 4) === words[1] &&
    readU32(buf, offset + 8) === words[2] &&
    readU32(buf, offset + 12) === words[3]
  );
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
