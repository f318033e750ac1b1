import {
  formatIpAddress,
  parseIpAddress,
  parsePrefix as parseWirePrefix,
  prefixHasHostBits,
} from '@espresso/wire';

/**
 * Prefixes as policies hold them: the FlowKey layout (four big-endian words, IPv4 in word 3), parsed
 * and printed with @espresso/wire's address text functions. Held as plain arrays so that policies stay
 * JSON and structured-clone friendly.
 */
export type Family = 4 | 6;

export type Words = readonly [number, number, number, number];

export interface Prefix {
  readonly family: Family;
  /** Network address, host bits zero. */
  readonly words: Words;
  /** Prefix length within the family: 0..32 for IPv4, 0..128 for IPv6. */
  readonly length: number;
}

export interface ParsedAddress {
  readonly family: Family;
  readonly words: Words;
}

function toWords(words: ArrayLike<number>): Words {
  return [words[0] ?? 0, words[1] ?? 0, words[2] ?? 0, words[3] ?? 0];
}

/** A bare IPv4 or IPv6 address (no zone, no brackets), or null. */
export function parseAddress(text: string): ParsedAddress | null {
  const address = parseIpAddress(text);
  return address === null ? null : { family: address.version, words: toWords(address.words) };
}

/** Mask of the `length` leading bits of a 128-bit value, as four words. */
export function maskWords(length: number): Words {
  const w = (i: number) => {
    const bits = length - 32 * i;
    if (bits >= 32) return 0xffffffff;
    if (bits <= 0) return 0;
    return (0xffffffff << (32 - bits)) >>> 0;
  };
  return [w(0), w(1), w(2), w(3)];
}

/** Prefix length in the 128-bit space of the FlowKey layout (an IPv4 /24 is a /120 there). */
export function wideLength(family: Family, length: number): number {
  return family === 4 ? 96 + length : length;
}

export type PrefixParseError = 'syntax' | 'length' | 'host-bits';

/**
 * Parses "10.0.0.0/24", "2001:db8::/32" or a bare address (a host prefix). Host bits must be zero, so a
 * typo such as "10.0.0.1/24" is reported rather than silently widened.
 */
export function parsePrefix(text: string): Prefix | PrefixParseError {
  const prefix = parseWirePrefix(text);
  if (prefix === null) {
    const slash = text.indexOf('/');
    return slash >= 0 && parseIpAddress(text.slice(0, slash)) !== null ? 'length' : 'syntax';
  }
  if (prefixHasHostBits(prefix)) return 'host-bits';
  return { family: prefix.version, words: toWords(prefix.words), length: prefix.length };
}

export function formatAddress(family: Family, words: ArrayLike<number>): string {
  return formatIpAddress({ version: family, words: Uint32Array.from(toWords(words)) });
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.family, prefix.words)}/${prefix.length}`;
}
