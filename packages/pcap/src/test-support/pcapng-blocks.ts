/**
 * Hand-assembled pcapng blocks, written from the specification and independent of PcapngWriter, for
 * block types and options Espresso never writes.
 */

export function block(type: number, body: Uint8Array, littleEndian = true): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const length = 12 + padded;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, littleEndian);
  view.setUint32(4, length, littleEndian);
  bytes.set(body, 8);
  view.setUint32(length - 4, length, littleEndian);
  return bytes;
}

export function option(code: number, value: Uint8Array, littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(4 + ((value.length + 3) & ~3));
  const view = new DataView(bytes.buffer);
  view.setUint16(0, code, littleEndian);
  view.setUint16(2, value.length, littleEndian);
  bytes.set(value, 4);
  return bytes;
}

export const endOfOptions = new Uint8Array(4);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fields(littleEndian: boolean, ...values: [bits: 16 | 32, value: number][]): Uint8Array {
  const bytes = new Uint8Array(values.reduce((n, [bits]) => n + bits / 8, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const [bits, value] of values) {
    if (bits === 16) view.setUint16(at, value, littleEndian);
    else view.setUint32(at, value, littleEndian);
    at += bits / 8;
  }
  return bytes;
}

export function sectionHeader(littleEndian = true): Uint8Array {
  const body = fields(littleEndian, [32, 0x1a2b3c4d], [16, 1], [16, 0], [32, 0xffff_ffff], [32, 0xffff_ffff]);
  return block(0x0a0d0d0a, body, littleEndian);
}

export function interfaceDescription(
  linkType: number,
  snapLength: number,
  options: readonly Uint8Array[] = [],
  littleEndian = true,
): Uint8Array {
  const head = fields(littleEndian, [16, linkType], [16, 0], [32, snapLength]);
  return block(1, concat(head, ...options, ...(options.length ? [endOfOptions] : [])), littleEndian);
}

export function enhancedPacket(
  interfaceId: number,
  high: number,
  low: number,
  data: Uint8Array,
  options: readonly Uint8Array[] = [],
  littleEndian = true,
): Uint8Array {
  const head = fields(
    littleEndian,
    [32, interfaceId],
    [32, high],
    [32, low],
    [32, data.length],
    [32, data.length],
  );
  const padded = new Uint8Array((data.length + 3) & ~3);
  padded.set(data);
  return block(6, concat(head, padded, ...options, ...(options.length ? [endOfOptions] : [])), littleEndian);
}

/** The obsolete Packet Block (type 2): 16-bit interface id and drop count. */
export function obsoletePacket(interfaceId: number, high: number, low: number, data: Uint8Array): Uint8Array {
  const head = fields(
    true,
    [16, interfaceId],
    [16, 0],
    [32, high],
    [32, low],
    [32, data.length],
    [32, data.length],
  );
  const padded = new Uint8Array((data.length + 3) & ~3);
  padded.set(data);
  return block(2, concat(head, padded));
}

export function simplePacket(originalLength: number, data: Uint8Array): Uint8Array {
  return block(3, concat(fields(true, [32, originalLength]), data));
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}
