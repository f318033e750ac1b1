/**
 * Netlink framing (RFC 3549, Linux include/uapi/linux/netlink.h): a 16-byte header (length, type,
 * flags, sequence, port id), then the payload, each message and each attribute padded to 4 bytes.
 * Little-endian is the host order of the machines Espresso runs on (x86-64, arm64).
 */
export const NETLINK_XFRM = 6;

export const NlMsg = { noop: 1, error: 2, done: 3 } as const;

export const NlFlag = {
  request: 0x01,
  multi: 0x02,
  ack: 0x04,
  /** On an error message: the request's payload is left out. */
  capped: 0x100,
  /** On an error message: extended-ack attributes follow. */
  ackTlvs: 0x200,
} as const;

/** Extended-ack attribute carrying the kernel's error text. */
const NLMSGERR_ATTR_MSG = 1;

export const NLMSG_HEADER_BYTES = 16;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Builds one netlink message: header, a fixed struct, then attributes. */
export class NetlinkWriter {
  #bytes = new Uint8Array(512);
  #view = new DataView(this.#bytes.buffer);
  #length = NLMSG_HEADER_BYTES;

  constructor(type: number, flags: number, seq: number) {
    this.#view.setUint16(4, type, true);
    this.#view.setUint16(6, flags, true);
    this.#view.setUint32(8, seq >>> 0, true);
    this.#view.setUint32(12, 0, true);
  }

  /** Reserves `size` zeroed bytes (padded to 4) and returns their offset. */
  reserve(size: number): number {
    const at = this.#length;
    this.#grow(align4(size));
    this.#length += align4(size);
    return at;
  }

  get view(): DataView {
    return this.#view;
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** An attribute whose payload `fill` writes into `size` zeroed bytes at the offset it is given. */
  attribute(type: number, size: number, fill: (at: number) => void): void {
    const at = this.reserve(4 + size);
    this.#view.setUint16(at, 4 + size, true);
    this.#view.setUint16(at + 2, type, true);
    fill(at + 4);
  }

  attributeU32(type: number, value: number): void {
    this.attribute(type, 4, (at) => this.#view.setUint32(at, value >>> 0, true));
  }

  /** The finished message (a copy), its length field set. */
  finish(): Uint8Array {
    this.#view.setUint32(0, this.#length, true);
    return this.#bytes.slice(0, this.#length);
  }

  #grow(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra));
    bigger.set(this.#bytes);
    this.#bytes = bigger;
    this.#view = new DataView(bigger.buffer);
  }
}

export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** The message's payload (after the header). */
  readonly payload: Uint8Array;
}

/** Splits a datagram into messages; stops at a length that does not fit. */
export function parseMessages(datagram: Uint8Array): NetlinkMessage[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const out: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HEADER_BYTES <= datagram.length) {
    const length = view.getUint32(at, true);
    if (length < NLMSG_HEADER_BYTES || at + length > datagram.length) break;
    out.push({
      type: view.getUint16(at + 4, true),
      flags: view.getUint16(at + 6, true),
      seq: view.getUint32(at + 8, true),
      pid: view.getUint32(at + 12, true),
      payload: datagram.subarray(at + NLMSG_HEADER_BYTES, at + length),
    });
    at += align4(length);
  }
  return out;
}

/** Attributes from `offset` to the end of `bytes`, by type (the last of a repeated type wins). */
export function parseAttributes(bytes: Uint8Array, offset: number): Map<number, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<number, Uint8Array>();
  let at = offset;
  while (at + 4 <= bytes.length) {
    const length = view.getUint16(at, true);
    if (length < 4 || at + length > bytes.length) break;
    // NLA_F_NESTED and NLA_F_NET_BYTEORDER live in the type's top bits.
    out.set(view.getUint16(at + 2, true) & 0x3fff, bytes.subarray(at + 4, at + length));
    at += align4(length);
  }
  return out;
}

/** An NLMSG_ERROR message: errno (0 for an acknowledgement) and the kernel's extended-ack text. */
export function parseError(message: NetlinkMessage): {
  readonly errno: number;
  readonly text: string | null;
} {
  const payload = message.payload;
  if (payload.length < 4) return { errno: 0, text: null };
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const errno = 0 - view.getInt32(0, true);
  if ((message.flags & NlFlag.ackTlvs) === 0 || payload.length < 4 + NLMSG_HEADER_BYTES)
    return { errno, text: null };
  const original = view.getUint32(4, true);
  const skip = (message.flags & NlFlag.capped) !== 0 ? NLMSG_HEADER_BYTES : align4(original);
  const attributes = parseAttributes(payload, 4 + skip);
  const raw = attributes.get(NLMSGERR_ATTR_MSG);
  if (raw === undefined) return { errno, text: null };
  const end = raw.indexOf(0);
  return { errno, text: new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end)) };
}

const errnoNames: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  28: 'ENOSPC',
  38: 'ENOSYS',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  105: 'ENOBUFS',
};

export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `errno ${errno}`;
}
