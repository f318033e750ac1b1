import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for AES-CBC IVs, drawn in bulk: one `randomFillSync` refills the whole pool, and each
 * packet copies its 16 bytes out. One pool per worker; bytes handed out are never handed out again.
 */
export class RandomPool {
  private readonly pool: Uint8Array;
  private position: number;

  constructor(bytes = 64 * 1024) {
    this.pool = new Uint8Array(bytes);
    this.position = bytes;
  }

  /** Writes `n` random bytes (at most the pool size) into `dst` at `offset`. */
  fill(dst: Uint8Array, offset: number, n: number): void {
    if (this.position + n > this.pool.length) {
      randomFillSync(this.pool);
      this.position = 0;
    }
    const p = this.position;
    for (let i = 0; i < n; i++) dst[offset + i] = this.pool[p + i]!;
    this.position = p + n;
  }
}
