import { type OffloadErrorCode, offloadErrorCodes } from '../result.ts';
import { MAILBOX_SLOT_BYTES } from './layout.ts';

/**
 * The command format of the emulator's mailboxes, as a NIC's admin queue would have one: a requester
 * writes a command into one of its mailbox's slots and pushes the slot index; the device answers in the
 * same slot and pushes the index back. Little-endian:
 *
 *   0 op u32 | 4 status u32 (0 ok, else 1 + error code index) | 8 vf u32 | 12 vlan u32 | 16 mac (6 bytes)
 *   24 handle u32 | 28 JSON length u32 | 32 encryption key length u32 | 36 integrity key length u32
 *   40 JSON (UTF-8), then the key bytes
 *
 * vf, vlan and mac are the domain the command claims to act for. The device zeroes key bytes in the
 * slot as soon as it has read them.
 */
export const Op = {
  nop: 0,
  addSa: 1,
  deleteSa: 2,
  updateSa: 3,
  addPolicy: 4,
  deletePolicy: 5,
  addDomain: 6,
  removeDomain: 7,
  /** A VF's function level reset: it forgot everything, the PF cleans up after it. */
  reset: 8,
  /** Answered once every packet queued before it has been processed. */
  flush: 9,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

const HEADER_BYTES = 40;

export interface DomainIdentity {
  readonly vf: number;
  readonly vlan: number;
  /** Six bytes. */
  readonly mac: Uint8Array;
}

export interface Command {
  readonly op: Op;
  readonly domain: DomainIdentity;
  readonly handle: number;
  readonly json: unknown;
  readonly encryptionKey?: Uint8Array;
  readonly integrityKey?: Uint8Array;
}

export interface Reply {
  readonly error: OffloadErrorCode | null;
  readonly handle: number;
  readonly json: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function slotView(buffer: SharedArrayBuffer, slot: number): Uint8Array {
  return new Uint8Array(buffer, slot * MAILBOX_SLOT_BYTES, MAILBOX_SLOT_BYTES);
}

/** Writes a command; throws RangeError when it does not fit a slot (a driver bug, not input). */
export function writeCommand(bytes: Uint8Array, command: Command): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = command.json === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(command.json));
  const enc = command.encryptionKey ?? new Uint8Array(0);
  const integ = command.integrityKey ?? new Uint8Array(0);
  if (HEADER_BYTES + text.length + enc.length + integ.length > bytes.length) {
    throw new RangeError('command does not fit a mailbox slot');
  }
  view.setUint32(0, command.op, true);
  view.setUint32(4, 0, true);
  view.setUint32(8, command.domain.vf, true);
  view.setUint32(12, command.domain.vlan, true);
  bytes.set(command.domain.mac.subarray(0, 6), 16);
  view.setUint32(24, command.handle, true);
  view.setUint32(28, text.length, true);
  view.setUint32(32, enc.length, true);
  view.setUint32(36, integ.length, true);
  bytes.set(text, HEADER_BYTES);
  bytes.set(enc, HEADER_BYTES + text.length);
  bytes.set(integ, HEADER_BYTES + text.length + enc.length);
}

/**
 * Reads a command as the device: key bytes are copied out and zeroed in the slot. Returns null for a
 * slot whose lengths do not add up (a requester's garbage must not crash the device).
 */
export function readCommand(bytes: Uint8Array): Command | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = view.getUint32(0, true);
  const textLength = view.getUint32(28, true);
  const encLength = view.getUint32(32, true);
  const integLength = view.getUint32(36, true);
  if (op > Op.flush || HEADER_BYTES + textLength + encLength + integLength > bytes.length) return null;
  let json: unknown;
  try {
    json =
      textLength === 0
        ? undefined
        : JSON.parse(decoder.decode(bytes.slice(HEADER_BYTES, HEADER_BYTES + textLength)));
  } catch {
    return null;
  }
  const keyStart = HEADER_BYTES + textLength;
  const encryptionKey = bytes.slice(keyStart, keyStart + encLength);
  const integrityKey = bytes.slice(keyStart + encLength, keyStart + encLength + integLength);
  bytes.fill(0, keyStart, keyStart + encLength + integLength);
  return {
    op: op as Op,
    domain: { vf: view.getUint32(8, true), vlan: view.getUint32(12, true), mac: bytes.slice(16, 22) },
    handle: view.getUint32(24, true),
    json,
    encryptionKey,
    integrityKey,
  };
}

export function writeReply(bytes: Uint8Array, reply: Reply): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = reply.json === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(reply.json));
  if (HEADER_BYTES + text.length > bytes.length)
    text = encoder.encode(JSON.stringify({ message: 'reply too long' }));
  view.setUint32(4, reply.error === null ? 0 : 1 + offloadErrorCodes.indexOf(reply.error), true);
  view.setUint32(24, reply.handle, true);
  view.setUint32(28, text.length, true);
  view.setUint32(32, 0, true);
  view.setUint32(36, 0, true);
  bytes.set(text, HEADER_BYTES);
}

export function readReply(bytes: Uint8Array): Reply {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const status = view.getUint32(4, true);
  const textLength = Math.min(view.getUint32(28, true), bytes.length - HEADER_BYTES);
  const json: unknown =
    textLength === 0
      ? undefined
      : JSON.parse(decoder.decode(bytes.slice(HEADER_BYTES, HEADER_BYTES + textLength)));
  return {
    error: status === 0 ? null : (offloadErrorCodes[status - 1] ?? 'invalid'),
    handle: view.getUint32(24, true),
    json,
  };
}

/** Device events: word 0 = type | detail << 8 | (generation & 0xffff) << 16, word 1 = the SA's handle. */
export const EventType = { softExpire: 1, hardExpire: 2, sequenceOverflow: 3, saLost: 4 } as const;
export const LimitCode = { packets: 0, bytes: 1, addSeconds: 2, useSeconds: 3 } as const;
export const limitNames = ['packets', 'bytes', 'addSeconds', 'useSeconds'] as const;

export function eventWord(type: number, detail: number, generation: number): number {
  return (type | (detail << 8) | ((generation & 0xffff) << 16)) >>> 0;
}

/** `02:00:00:00:00:01` to six bytes; null when it is not a MAC address. */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) return null;
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return [...mac.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
