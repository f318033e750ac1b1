/**
 * Where reassembled inner packets go: the caller's buffers (a packet pool slot per packet), so the
 * receiver allocates nothing per packet. One sink per receiver, chosen at install.
 */
export interface InnerPacketSink {
  /**
   * The buffer `claim` offsets point into, read after each claim: a sink may place a packet in one of
   * several buffers (a pool slot, or an overflow arena when no slot is free).
   */
  readonly buffer: Uint8Array;
  /**
   * Room for one inner packet of `length` octets: its offset in `buffer`, or -1 when there is none
   * (the packet is then dropped and counted as `noBufferSpace`).
   */
  claim(length: number): number;
  /** The packet claimed last is complete at `buffer[offset, offset + length)`, next in order. */
  commit(offset: number, length: number): void;
}
