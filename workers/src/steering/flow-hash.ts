import type { FlowKey } from '@espresso/wire';

function mixAddress(words: Uint32Array): number {
  let h = 0x2545f491;
  for (let i = 0; i < 4; i++) {
    h ^= Math.imul(words[i]!, 0xcc9e2d51);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  return h;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A symmetric hash of a flow's 5-tuple, as symmetric RSS computes it: swapping source and destination
 * (addresses and ports) gives the same value, so both directions of a connection land on one worker.
 * Addresses are mixed one by one and combined with XOR, ports as (lower, higher). DSCP is left out: a
 * flow keeps its worker when its marking changes.
 */
export function flowHash(key: FlowKey): number {
  const a = mixAddress(key.src);
  const b = mixAddress(key.dst);
  const lo = key.srcPort < key.dstPort ? key.srcPort : key.dstPort;
  const hi = key.srcPort < key.dstPort ? key.dstPort : key.srcPort;
  let h = a ^ b;
  h ^= Math.imul((lo << 16) | hi, 0x9e3779b1);
  h ^= Math.imul(key.protocol + (key.version << 8), 0x27d4eb2f);
  return finish(h);
}

/** The worker of a hash among `workers` (multiply-shift: uniform for any count, no division). */
export function workerOfHash(hash: number, workers: number): number {
  return Math.floor((hash / 4294967296) * workers);
}
