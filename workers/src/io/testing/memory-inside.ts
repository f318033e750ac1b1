import type { InsidePort } from '../inside-port.ts';

/** An inside port in memory: what a test pushes is read by io, what io writes is kept. */
export class MemoryInside implements InsidePort {
  readonly name = 'memory';
  readonly queues = 1;
  readonly written: Uint8Array[] = [];
  private readonly waiting: Uint8Array[] = [];
  private onReadable: ((queue: number) => void) | null = null;

  push(packets: readonly Uint8Array[]): void {
    this.waiting.push(...packets);
    this.onReadable?.(0);
  }

  read(_q: number, bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    let n = 0;
    while (n < count && this.waiting.length > 0) {
      const p = this.waiting.shift()!;
      bytes.set(p, offsets[n]!);
      lengths[n++] = p.length;
    }
    return n;
  }

  write(_q: number, bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    for (let i = 0; i < count; i++) this.written.push(bytes.slice(offsets[i]!, offsets[i]! + lengths[i]!));
    return count;
  }

  watch(onReadable: (queue: number) => void): void {
    this.onReadable = onReadable;
  }

  close(): void {}
}
