import { Type } from 'typebox';

/** Names of SAs, SA groups and policies: what operators type, what metrics carry as labels. */
export const Name = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$',
  description: 'letters, digits and . _ : - (at most 64, not starting with punctuation)',
});

export const Spi = Type.Integer({
  minimum: 1,
  maximum: 0xffff_ffff,
  description: 'Security Parameter Index',
});

export const DomainId = Type.Integer({
  minimum: 0,
  maximum: 2_097_151,
  description: 'SAD domain: a VLAN, virtual function or tenant; 0 is the default domain',
});

/** A query-string form of an unsigned 32-bit integer: decimal or 0x-prefixed hex. */
export const U32Text = Type.String({ pattern: '^(0|[1-9][0-9]{0,9}|0[xX][0-9a-fA-F]{1,8})$' });

/** ISO 8601 time. */
export const Time = Type.String({ format: 'date-time' });

export const Fingerprint = Type.String({
  pattern: '^[0-9a-f]{16}$',
  description:
    'first 8 bytes of SHA-256 over the keys (domain-separated); keys themselves are never returned',
});

export const Empty = Type.Object({}, { additionalProperties: false });

export function parseU32Text(text: string): number {
  const value =
    text.startsWith('0x') || text.startsWith('0X') ? Number.parseInt(text.slice(2), 16) : Number(text);
  return value;
}
