import { openNetlinkSocket, SysError } from '@espresso/sys';
import { type NetlinkMessage, NetlinkWriter, NlFlag, NlMsg, parseError, parseMessages } from './netlink.ts';

/** A datagram socket to the kernel: what the XFRM driver needs of netlink, and what tests replace. */
export interface NetlinkTransport {
  /** Bytes sent, or a negative errno. */
  send(bytes: Uint8Array): number;
  /** Bytes received into `buffer`, or a negative errno (-EAGAIN after the receive timeout). */
  receive(buffer: Uint8Array): number;
  close(): void;
}

/**
 * A netlink socket of `protocol` (through @espresso/sys), in network namespace `netns` when given; a
 * sentence saying why when it cannot be opened (no helper, no namespace, no permission).
 */
export function openNetlink(
  protocol: number,
  options: { readonly netns?: string | null; readonly timeoutMs?: number } = {},
): NetlinkTransport | string {
  try {
    return openNetlinkSocket(protocol, {
      netns: options.netns ?? null,
      timeoutMs: options.timeoutMs ?? 2000,
    });
  } catch (error) {
    if (error instanceof SysError) return error.message;
    throw error;
  }
}

export interface NetlinkAnswer {
  /** 0 when the kernel acknowledged (or answered), else its errno. */
  readonly errno: number;
  /** The kernel's extended-ack text, when it gave one. */
  readonly text: string | null;
  /** Answers other than the acknowledgement (a GET's reply). */
  readonly replies: readonly NetlinkMessage[];
}

/**
 * One request and its answer, synchronously: netlink to the kernel answers at once, so the driver's
 * reads (`readSa`) can stay synchronous like every other driver's. Replies for other sequence numbers
 * (late answers to an earlier request) are skipped.
 */
export class NetlinkChannel {
  readonly #transport: NetlinkTransport;
  readonly #buffer = new Uint8Array(65536);
  #seq = 1;

  constructor(transport: NetlinkTransport) {
    this.#transport = transport;
  }

  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    return this.#seq;
  }

  /** Sends `message` (its sequence number is `seq`); the message's bytes are zeroed afterwards (keys). */
  request(message: Uint8Array, seq: number): NetlinkAnswer {
    const flags = new DataView(message.buffer, message.byteOffset).getUint16(6, true);
    const sent = this.#transport.send(message);
    message.fill(0);
    if (sent < 0) return { errno: -sent, text: null, replies: [] };
    const replies: NetlinkMessage[] = [];
    const wantsAck = (flags & NlFlag.ack) !== 0;
    for (;;) {
      const n = this.#transport.receive(this.#buffer);
      if (n < 0) return { errno: -n, text: 'no answer from the kernel', replies };
      for (const m of parseMessages(this.#buffer.subarray(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NlMsg.error) {
          const error = parseError(m);
          return { errno: error.errno, text: error.text, replies: replies.map(copy) };
        }
        if (m.type === NlMsg.done) return { errno: 0, text: null, replies: replies.map(copy) };
        replies.push(m);
        if (!wantsAck && (m.flags & NlFlag.multi) === 0)
          return { errno: 0, text: null, replies: replies.map(copy) };
      }
    }
  }

  close(): void {
    this.#transport.close();
  }
}

function copy(m: NetlinkMessage): NetlinkMessage {
  return { ...m, payload: m.payload.slice() };
}

const NETLINK_ROUTE = 0;
const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const IFLA_IFNAME = 3;
const IFINFOMSG_BYTES = 16;

/** An interface's index by name, asked of rtnetlink (RTM_GETLINK) in the same namespace. */
export function interfaceIndex(name: string, netns: string | null): number | string {
  const transport = openNetlink(NETLINK_ROUTE, { netns, timeoutMs: 1000 });
  if (typeof transport === 'string') return transport;
  const channel = new NetlinkChannel(transport);
  try {
    const seq = channel.nextSeq();
    const w = new NetlinkWriter(RTM_GETLINK, NlFlag.request, seq);
    w.reserve(IFINFOMSG_BYTES);
    const text = new TextEncoder().encode(name);
    w.attribute(IFLA_IFNAME, text.length + 1, (at) => w.bytes.set(text, at));
    const answer = channel.request(w.finish(), seq);
    const reply = answer.replies.find((m) => m.type === RTM_NEWLINK);
    if (answer.errno !== 0 || reply === undefined) return `no interface '${name}' (errno ${answer.errno})`;
    return new DataView(reply.payload.buffer, reply.payload.byteOffset).getInt32(4, true);
  } finally {
    channel.close();
  }
}
