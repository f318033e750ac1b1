import { createPacketVector, EspOutbound, type SaRuntime, setPacket, VERDICT_FORWARD } from '@espresso/esp';
import { createPoolStorage, descriptorLength, descriptorSlot, PacketPool } from '@espresso/ring';
import type { TrafficGenerator } from './generator.ts';

/**
 * Encrypted traffic for the inbound side, made before the run: ESP packets for each of several SAs,
 * `perSa` packets each, sealed by the peer's outbound SAs from the generator's stamped plaintext. The
 * player copies them into pool slots as cheaply as the generator copies templates; a forwarder's
 * replay window accepts each packet once, so the scenario re-installs an SA (same SPI and key, fresh
 * window) between two plays of its packets.
 *
 * The generator's "workers" are the SAs here: flows steered to generator worker s travel on SA s.
 */
export class EspCorpus {
  readonly sas: number;
  readonly perSa: number;
  readonly bytes: Uint8Array;
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  /** One view per packet, made once. */
  readonly views: readonly Uint8Array[];
  readonly maxLength: number;

  constructor(generator: TrafficGenerator, outbound: readonly SaRuntime[], perSa: number) {
    const sas = outbound.length;
    if (generator.workers !== sas) throw new RangeError('the generator must have one worker per SA');
    this.sas = sas;
    this.perSa = perSa;
    const batch = 64;
    const scratch = new PacketPool(createPoolStorage({ slots: batch * 2, threads: 1, mtu: 2048 }), 0);
    const descs = new Uint32Array(2 * batch);
    const v = createPacketVector(scratch.bytes, batch);
    const encoder = new EspOutbound({ capacity: batch });
    const chunks: Uint8Array[] = [];
    const lengths: number[] = [];
    for (let s = 0; s < sas; s++) {
      for (let made = 0; made < perSa; ) {
        const n = generator.fill(scratch, s, descs, Math.min(batch, perSa - made), 0);
        if (n === 0) throw new RangeError(`no flow travels on SA ${s}: use at least as many flows as SAs`);
        for (let i = 0; i < n; i++) {
          const start = descriptorSlot(descs, i) * scratch.slotSize;
          setPacket(
            v,
            i,
            start + scratch.headroom,
            descriptorLength(descs, i),
            start,
            start + scratch.slotSize,
          );
        }
        v.count = n;
        encoder.encapsulate(outbound[s]!, v, 0, n, 0);
        for (let i = 0; i < n; i++) {
          if (v.verdict[i] !== VERDICT_FORWARD)
            throw new Error(`corpus: SA ${s} refused a packet (${v.verdict[i]})`);
          chunks.push(scratch.bytes.slice(v.offset[i]!, v.offset[i]! + v.length[i]!));
          lengths.push(v.length[i]!);
        }
        scratch.freeDescriptors(descs, n);
        made += n;
      }
    }
    const total = lengths.reduce((a, b) => a + b, 0);
    this.bytes = new Uint8Array(total);
    this.offset = new Uint32Array(lengths.length);
    this.length = Uint32Array.from(lengths);
    const views: Uint8Array[] = [];
    let at = 0;
    chunks.forEach((chunk, j) => {
      this.bytes.set(chunk, at);
      this.offset[j] = at;
      views.push(this.bytes.subarray(at, at + chunk.length));
      at += chunk.length;
    });
    this.views = views;
    this.maxLength = lengths.reduce((a, b) => (a > b ? a : b), 0);
  }
}
