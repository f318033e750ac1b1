/**
 * SPI -> worker, in shared memory: how io steers an inbound ESP packet to the one worker that owns its
 * SA instance (DESIGN invariant 1), as a NIC's RSS indirection table would. Open addressing with linear
 * probing over (key, value) u32 pairs: key 0 is an empty cell (SPI 0 is reserved, RFC 4303 §2.1),
 * value is worker + 1, or TOMBSTONE for an SPI no longer steered.
 *
 * One writer (the thread that runs the pool). A cell's value is stored before its key, so a reader on
 * another thread that finds the key finds the value with it; a rebuild (when tombstones pile up) may
 * make such a reader miss an SPI for a moment, which sends the packet to the default worker, which
 * drops it as noState.
 */
const TOMBSTONE = 0xffffffff;
const EMPTY = 0;

export interface SteeringStorage {
  readonly cells: SharedArrayBuffer;
  readonly capacity: number;
}

export function createSteeringStorage(entries: number): SteeringStorage {
  let capacity = 16;
  while (capacity < entries * 2) capacity *= 2;
  return { cells: new SharedArrayBuffer(capacity * 8), capacity };
}

function spiHash(spi: number): number {
  let h = Math.imul(spi ^ (spi >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class SpiSteeringTable {
  readonly capacity: number;
  private readonly cells: Uint32Array;
  private readonly mask: number;
  /** Writer side only: live entries and tombstones, for the rebuild decision. */
  private used = 0;
  private live = 0;

  constructor(storage: SteeringStorage) {
    this.capacity = storage.capacity;
    this.cells = new Uint32Array(storage.cells);
    this.mask = storage.capacity - 1;
    for (let i = 0; i < this.capacity; i++) {
      const key = this.cells[2 * i]!;
      if (key === EMPTY) continue;
      this.used++;
      if (this.cells[2 * i + 1] !== TOMBSTONE) this.live++;
    }
  }

  /** The worker steered for `spi`, or -1. */
  lookup(spi: number): number {
    const cells = this.cells;
    let i = spiHash(spi) & this.mask;
    for (let probes = 0; probes < this.capacity; probes++) {
      const key = Atomics.load(cells, 2 * i);
      if (key === EMPTY) return -1;
      if (key === spi >>> 0) {
        const value = Atomics.load(cells, 2 * i + 1);
        return value === TOMBSTONE ? -1 : value - 1;
      }
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Writer: steers `spi` to `worker`. */
  set(spi: number, worker: number): void {
    const key = spi >>> 0;
    if (key === EMPTY) throw new RangeError('SPI 0 cannot be steered');
    const at = this.find(key);
    if (at >= 0) {
      if (this.cells[2 * at + 1] === TOMBSTONE) this.live++;
      Atomics.store(this.cells, 2 * at + 1, worker + 1);
      return;
    }
    if ((this.used + 1) * 4 > this.capacity * 3) this.rebuild();
    if ((this.live + 1) * 4 > this.capacity * 3) throw new RangeError('SPI steering table is full');
    let i = spiHash(key) & this.mask;
    while (this.cells[2 * i] !== EMPTY) i = (i + 1) & this.mask;
    Atomics.store(this.cells, 2 * i + 1, worker + 1);
    Atomics.store(this.cells, 2 * i, key);
    this.used++;
    this.live++;
  }

  /** Writer: stops steering `spi`. */
  delete(spi: number): void {
    const at = this.find(spi >>> 0);
    if (at < 0 || this.cells[2 * at + 1] === TOMBSTONE) return;
    Atomics.store(this.cells, 2 * at + 1, TOMBSTONE);
    this.live--;
  }

  get size(): number {
    return this.live;
  }

  private find(key: number): number {
    let i = spiHash(key) & this.mask;
    for (let probes = 0; probes < this.capacity; probes++) {
      const k = this.cells[2 * i]!;
      if (k === EMPTY) return -1;
      if (k === key) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  private rebuild(): void {
    const entries: [number, number][] = [];
    for (let i = 0; i < this.capacity; i++) {
      const key = this.cells[2 * i]!;
      const value = this.cells[2 * i + 1]!;
      if (key !== EMPTY && value !== TOMBSTONE) entries.push([key, value]);
    }
    for (let i = 0; i < this.cells.length; i++) Atomics.store(this.cells, i, 0);
    this.used = 0;
    this.live = 0;
    for (const [key, value] of entries) {
      let i = spiHash(key) & this.mask;
      while (this.cells[2 * i] !== EMPTY) i = (i + 1) & this.mask;
      Atomics.store(this.cells, 2 * i + 1, value);
      Atomics.store(this.cells, 2 * i, key);
      this.used++;
      this.live++;
    }
  }
}
