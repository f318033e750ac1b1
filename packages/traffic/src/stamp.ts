import { readU16, readU32, writeU16, writeU32 } from '@espresso/wire';

/**
 * The 16 bytes at the start of every generated packet's UDP payload, which let the sink tell which
 * packet it is looking at and whether it arrived intact:
 *
 * ```
 * 0   magic 'ESPR'          4   template index (u16)   6  compensation (u16)
 * 8   flow sequence (u32, from 0 per flow)             12 run id (u32)
 * ```
 *
 * The compensation word makes the stamp's one's-complement sum all ones, which is zero in one's
 * complement, so a template's UDP checksum (computed with the stamp's variable words zero) stays valid
 * for every stamped copy: stamping is five stores, no checksum pass.
 */
export const STAMP_BYTES = 16;
export const STAMP_MAGIC = 0x45535052;

export const StampField = {
  magic: 0,
  template: 4,
  compensation: 6,
  sequence: 8,
  run: 12,
} as const;

/** Writes the variable words of a stamp whose magic is already in place (from the template). */
export function writeStamp(
  buf: Uint8Array,
  at: number,
  template: number,
  sequence: number,
  run: number,
): void {
  const sum = template + (sequence >>> 16) + (sequence & 0xffff) + (run >>> 16) + (run & 0xffff);
  let folded = (sum >>> 16) + (sum & 0xffff);
  folded = (folded >>> 16) + (folded & 0xffff);
  writeU16(buf, at + StampField.template, template);
  writeU16(buf, at + StampField.compensation, ~folded & 0xffff);
  writeU32(buf, at + StampField.sequence, sequence);
  writeU32(buf, at + StampField.run, run);
}

/** True when the stamp at `at` has the magic and its words sum to all ones (no byte changed). */
export function stampIntact(buf: Uint8Array, at: number): boolean {
  if (readU32(buf, at) !== STAMP_MAGIC) return false;
  let sum = 0;
  for (let i = at + 4; i < at + STAMP_BYTES; i += 2) sum += readU16(buf, i);
  let folded = (sum >>> 16) + (sum & 0xffff);
  folded = (folded >>> 16) + (folded & 0xffff);
  return folded === 0xffff;
}

export function stampTemplate(buf: Uint8Array, at: number): number {
  return readU16(buf, at + StampField.template);
}

export function stampSequence(buf: Uint8Array, at: number): number {
  return readU32(buf, at + StampField.sequence);
}

export function stampRun(buf: Uint8Array, at: number): number {
  return readU32(buf, at + StampField.run);
}
