/**
 * The slots a UDP socket still holds: Node's send keeps a reference to the bytes until the kernel took
 * them, so a slot is freed only when its send completes. Sends complete in the order they were made, so
 * a ring of slot numbers does.
 */
export class SendQueue {
  private readonly slots: Uint32Array;
  private head = 0;
  size = 0;

  constructor(capacity: number) {
    this.slots = new Uint32Array(capacity);
  }

  push(slot: number): void {
    this.slots[(this.head + this.size++) % this.slots.length] = slot;
  }

  /** The slot of the oldest send, which just completed. */
  shift(): number {
    const slot = this.slots[this.head]!;
    this.head = (this.head + 1) % this.slots.length;
    this.size--;
    return slot;
  }
}
