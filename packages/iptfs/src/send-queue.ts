import { ByteCopier } from './copy-bytes.ts';

/** The smallest inner packet: an IPv4 header alone. Bounds how many entries a byte budget can hold. */
const MIN_ENTRY_BYTES = 20;

/**
 * The send queue of one outbound IP-TFS SA (Linux `max_queue_size`): inner packets copied into a byte
 * ring allocated once, in arrival order, waiting to be packed into outer payloads. The head packet may
 * be partly sent (it was split across outer packets); its remaining bytes go first. A packet that does
 * not fit in the space left is refused whole, never truncated.
 */
export class SendQueue {
  /** Ring size in bytes: the most inner-packet bytes queued at once. */
  readonly capacity: number;
  private readonly ring: Uint8Array;
  private readonly copier = new ByteCopier();
  private readonly lengths: Uint32Array;
  /** Byte position of the head packet's first byte, and where the next packet's bytes go. */
  private headAt = 0;
  private tailAt = 0;
  /** Ring bytes in use, the sent part of the head packet included. */
  private used = 0;
  private headEntry = 0;
  private entries = 0;
  /** Bytes of the head packet already packed into outer payloads. */
  private sent = 0;
  /** Packets the last `consume` took out whole (the rest of a split one counts). */
  completed = 0;
  /** The clock reading when the queue last turned from empty to non-empty (Linux's `init_delay` start). */
  firstQueuedAt = Number.POSITIVE_INFINITY;
  /** A packet being appended piecewise (IPv4 fragments): its bytes so far, or -1. */
  private building = -1;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < MIN_ENTRY_BYTES) {
      throw new RangeError(`send queue capacity must be an integer of at least ${MIN_ENTRY_BYTES} bytes`);
    }
    this.capacity = capacity;
    this.ring = new Uint8Array(capacity);
    this.lengths = new Uint32Array(Math.floor(capacity / MIN_ENTRY_BYTES) + 1);
  }

  /** Packets queued, the partly sent head included. */
  get count(): number {
    return this.entries;
  }

  /** Bytes still to send. */
  get pendingBytes(): number {
    return this.used - this.sent;
  }

  /** Bytes a new packet may still take. */
  get freeBytes(): number {
    return this.capacity - this.used;
  }

  /** Packets the queue may still take, whatever their size. */
  get freeEntries(): number {
    return this.lengths.length - this.entries;
  }

  /** Length of the head packet, or 0 when empty. */
  get headLength(): number {
    return this.entries === 0 ? 0 : this.lengths[this.headEntry]!;
  }

  /** Bytes of the head packet already sent (non-zero: the next payload starts with its continuation). */
  get headSent(): number {
    return this.sent;
  }

  /** Length of the i-th queued packet (0: the head), for i below `count`. */
  lengthAt(i: number): number {
    let slot = this.headEntry + i;
    if (slot >= this.lengths.length) slot -= this.lengths.length;
    return this.lengths[slot]!;
  }

  /**
   * Queues a copy of `src[offset, offset + length)`; false when it does not fit. One copy into the
   * ring (two where it wraps) and one length recorded: nothing else per packet.
   */
  push(src: Uint8Array, offset: number, length: number, now: number): boolean {
    const cap = this.capacity;
    const used = this.used;
    const entries = this.entries;
    const lengths = this.lengths;
    if (length < 1 || length > cap - used || entries === lengths.length) return false;
    if (entries === 0) this.firstQueuedAt = now;
    let slot = this.headEntry + entries;
    if (slot >= lengths.length) slot -= lengths.length;
    lengths[slot] = length;
    const tail = this.tailAt;
    const first = cap - tail;
    if (length < first) {
      this.copier.copy(src, offset, this.ring, tail, length);
      this.tailAt = tail + length;
    } else {
      this.copier.copy(src, offset, this.ring, tail, first);
      this.copier.copy(src, offset + first, this.ring, 0, length - first);
      this.tailAt = length - first;
    }
    this.used = used + length;
    this.entries = entries + 1;
    return true;
  }

  /** Starts a packet of `length` bytes to be appended piecewise; false when it does not fit. */
  begin(length: number, now: number): boolean {
    if (length < 1 || length > this.capacity - this.used || this.entries === this.lengths.length)
      return false;
    if (this.entries === 0) this.firstQueuedAt = now;
    this.building = 0;
    this.lengths[(this.headEntry + this.entries) % this.lengths.length] = length;
    return true;
  }

  /** Appends bytes to the packet `begin` started. */
  append(src: Uint8Array, offset: number, length: number): void {
    const cap = this.capacity;
    const first = Math.min(length, cap - this.tailAt);
    this.copier.copy(src, offset, this.ring, this.tailAt, first);
    this.copier.copy(src, offset + first, this.ring, 0, length - first);
    this.tailAt = (this.tailAt + length) % cap;
    this.used += length;
    this.building += length;
  }

  /** Completes the packet `begin` started; its appended bytes must add up to the announced length. */
  finish(): void {
    const slot = (this.headEntry + this.entries) % this.lengths.length;
    if (this.building !== this.lengths[slot]) {
      throw new RangeError(`queued packet has ${this.building} bytes, announced ${this.lengths[slot]}`);
    }
    this.building = -1;
    this.entries++;
  }

  /**
   * How many of the next `space` bytes (a payload's data) to send when inner packets may not be split:
   * the rest of the head packet (all of `space` if it is longer), then whole packets while they fit;
   * a packet longer than `space` (it can never fit: the payload shrank after it was queued) is split
   * all the same, or the queue would never move.
   */
  wholeBytes(space: number): number {
    const lengths = this.lengths;
    const size = lengths.length;
    let left = space;
    let slot = this.headEntry;
    let i = 0;
    if (this.entries > 0 && this.sent > 0) {
      const rest = lengths[slot]! - this.sent;
      if (rest >= left) return space;
      left -= rest;
      i = 1;
      slot = slot + 1 === size ? 0 : slot + 1;
    }
    for (; i < this.entries; i++) {
      const length = lengths[slot]!;
      if (length > left) return length <= space ? space - left : space;
      left -= length;
      slot = slot + 1 === size ? 0 : slot + 1;
    }
    return space - left;
  }

  /**
   * Copies the next `length` bytes of the queue, the rest of the head packet first and then the packets
   * after it, to `dst[dstOffset]` (at most two copies: the ring stores them back to back) and consumes
   * them; packets fully taken leave the queue (`completed` says how many), the last one may be left
   * partly sent. Returns the bytes copied (fewer when the queue holds fewer).
   */
  consume(dst: Uint8Array, dstOffset: number, length: number): number {
    const used = this.used;
    let sent = this.sent;
    const n = Math.min(length, used - sent);
    this.completed = 0;
    if (n <= 0) return 0;
    const cap = this.capacity;
    let headAt = this.headAt;
    let at = headAt + sent;
    if (at >= cap) at -= cap;
    const first = cap - at;
    if (n <= first) {
      this.copier.copy(this.ring, at, dst, dstOffset, n);
    } else {
      this.copier.copy(this.ring, at, dst, dstOffset, first);
      this.copier.copy(this.ring, 0, dst, dstOffset + first, n - first);
    }
    // Walk the lengths only: whole packets leave, the one the span ends inside keeps its sent count.
    const lengths = this.lengths;
    const size = lengths.length;
    let head = this.headEntry;
    let freed = 0;
    let done = 0;
    let left = n + sent;
    for (;;) {
      const total = lengths[head]!;
      if (left < total) break;
      left -= total;
      freed += total;
      done++;
      head = head + 1 === size ? 0 : head + 1;
      if (left === 0) break;
    }
    sent = left;
    headAt += freed;
    if (headAt >= cap) headAt -= cap;
    this.headAt = headAt;
    this.headEntry = head;
    this.used = used - freed;
    this.sent = sent;
    this.entries -= done;
    this.completed = done;
    if (this.entries === 0) this.firstQueuedAt = Number.POSITIVE_INFINITY;
    return n;
  }

  /** Drops everything queued (the SA is going away). */
  clear(): void {
    this.headAt = 0;
    this.tailAt = 0;
    this.used = 0;
    this.sent = 0;
    this.headEntry = 0;
    this.entries = 0;
    this.building = -1;
    this.firstQueuedAt = Number.POSITIVE_INFINITY;
    this.ring.fill(0);
  }
}
