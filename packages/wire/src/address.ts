/**
 * IP addresses and prefixes as text, for the control plane (configuration, API, logs). Addresses are
 * four big-endian 32-bit words with IPv4 in word 3, as in FlowKey. Parsers return null for text that is
 * not an address; the caller names the field in its error. Not for the per-packet path (allocates).
 */

export interface IpAddress {
  version: 4 | 6;
  readonly words: Uint32Array;
}

export interface IpPrefix extends IpAddress {
  /** Prefix length in bits: 0..32 for IPv4, 0..128 for IPv6. */
  length: number;
}

const decimalOctet = /^(0|[1-9][0-9]{0,2})$/;
const hexGroup = /^[0-9a-fA-F]{1,4}$/;

/**
 * Dotted-quad IPv4 ("192.0.2.1") as an unsigned 32-bit number. Leading zeros are refused, since some
 * parsers read them as octal.
 */
export function parseIpv4Address(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!decimalOctet.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4Address(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * IPv6 text (RFC 4291 §2.2: full, "::"-compressed, or with a dotted-quad tail) into four words. Zone
 * identifiers and brackets are refused.
 */
export function parseIpv6Address(text: string, out: Uint32Array = new Uint32Array(4)): Uint32Array | null {
  const groups = new Array<number>(8).fill(0);
  let body = text;
  let tail: number | null = null;
  const lastColon = body.lastIndexOf(':');
  if (lastColon !== -1 && body.indexOf('.', lastColon) !== -1) {
    tail = parseIpv4Address(body.slice(lastColon + 1));
    if (tail === null) return null;
    // Keep the colon(s) before the tail so that "::1.2.3.4" still splits around "::".
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const head = splitGroups(halves[0]!);
  if (head === null) return null;
  if (halves.length === 1) {
    if (head.length !== 8) return null;
    head.forEach((g, i) => {
      groups[i] = g;
    });
  } else {
    const rest = splitGroups(halves[1]!);
    if (rest === null || head.length + rest.length > 7) return null;
    head.forEach((g, i) => {
      groups[i] = g;
    });
    rest.forEach((g, i) => {
      groups[8 - rest.length + i] = g;
    });
  }
  for (let i = 0; i < 4; i++) out[i] = (groups[2 * i]! * 0x10000 + groups[2 * i + 1]!) >>> 0;
  if (tail !== null) out[3] = tail;
  return out;
}

function splitGroups(text: string): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const part of parts) {
    if (!hexGroup.test(part)) return null;
    groups.push(Number.parseInt(part, 16));
  }
  return groups;
}

/**
 * Canonical text (RFC 5952): lower case, no leading zeros, the longest run of two or more zero groups
 * (the first of equals) as "::", and IPv4-mapped addresses (::ffff:0:0/96) with a dotted-quad tail.
 */
export function formatIpv6Address(words: Uint32Array): string {
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return `::ffff:${formatIpv4Address(words[3]!)}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) groups.push(words[i]! >>> 16, words[i]! & 0xffff);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Either family; IPv6 when the text has a colon. */
export function parseIpAddress(text: string): IpAddress | null {
  const words = new Uint32Array(4);
  if (text.includes(':')) return parseIpv6Address(text, words) === null ? null : { version: 6, words };
  const value = parseIpv4Address(text);
  if (value === null) return null;
  words[3] = value;
  return { version: 4, words };
}

export function formatIpAddress(address: IpAddress): string {
  return address.version === 4 ? formatIpv4Address(address.words[3]!) : formatIpv6Address(address.words);
}

/** "address/length", or a bare address taken as a host prefix (/32 or /128). Host bits are kept. */
export function parsePrefix(text: string): IpPrefix | null {
  const slash = text.indexOf('/');
  const address = parseIpAddress(slash === -1 ? text : text.slice(0, slash));
  if (address === null) return null;
  const maxLength = address.version === 4 ? 32 : 128;
  if (slash === -1) return { ...address, length: maxLength };
  const lengthText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return null;
  const length = Number(lengthText);
  if (length > maxLength) return null;
  return { ...address, length };
}

export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIpAddress(prefix)}/${prefix.length}`;
}

/** The mask of word `index` (0..3) for a prefix of `length` bits over the four words. */
function wordMask(version: 4 | 6, length: number, index: number): number {
  const bits = (version === 4 ? length + 96 : length) - index * 32;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/** True when the address has bits set beyond the prefix length ("192.0.2.1/24"). */
export function prefixHasHostBits(prefix: IpPrefix): boolean {
  for (let i = 0; i < 4; i++) {
    if ((prefix.words[i]! & ~wordMask(prefix.version, prefix.length, i)) !== 0) return true;
  }
  return false;
}

/** Clears the host bits in place. */
export function maskPrefix(prefix: IpPrefix): void {
  for (let i = 0; i < 4; i++)
    prefix.words[i] = (prefix.words[i]! & wordMask(prefix.version, prefix.length, i)) >>> 0;
}

/** Whether an address of `version` given as four words lies inside the prefix. */
export function prefixContains(prefix: IpPrefix, version: 4 | 6, words: Uint32Array): boolean {
  if (version !== prefix.version) return false;
  for (let i = 0; i < 4; i++) {
    const mask = wordMask(prefix.version, prefix.length, i);
    if (((words[i]! ^ prefix.words[i]!) & mask) !== 0) return false;
  }
  return true;
}

/** The address as it sits in a header: 4 bytes for IPv4, 16 for IPv6. */
export function ipAddressToBytes(address: IpAddress): Uint8Array {
  const bytes = new Uint8Array(address.version === 4 ? 4 : 16);
  const first = address.version === 4 ? 3 : 0;
  for (let i = first; i < 4; i++) {
    const w = address.words[i]!;
    const at = (i - first) * 4;
    bytes[at] = w >>> 24;
    bytes[at + 1] = w >>> 16;
    bytes[at + 2] = w >>> 8;
    bytes[at + 3] = w;
  }
  return bytes;
}
