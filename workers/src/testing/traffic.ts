import { createSaRuntime, EspOutbound, type SaConfig } from '@espresso/esp';
import { innerPacket, packetAt, vectorOf } from '@espresso/esp/testing';

export interface FlowOptions {
  readonly src?: string;
  readonly dst?: string;
  readonly dscp?: number;
  readonly payloadBytes?: number;
}

/**
 * Inner IPv4 UDP packets of distinct flows (source port 40000 + seed), so symmetric-hash steering
 * spreads them over the workers. The payload pattern depends on the seed: each packet is recognisable.
 */
export function flowPackets(count: number, firstSeed = 0, o: FlowOptions = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      innerPacket({
        version: 4,
        src: o.src ?? '10.1.0.1',
        dst: o.dst ?? '10.2.0.2',
        payloadBytes: o.payloadBytes ?? 64,
        seed: firstSeed + i,
        ...(o.dscp === undefined ? {} : { dscp: o.dscp }),
      }),
    );
  }
  return out;
}

/** The source port of an inner packet built by flowPackets (IPv4, no options): its seed + 40000. */
export function sourcePortOf(inner: Uint8Array): number {
  return (inner[20]! << 8) | inner[21]!;
}

/** A peer gateway's outbound SA, run on the test's thread: ESP packets to feed a pool's inbound side. */
export class EspSource {
  private readonly sa;
  private readonly encoder = new EspOutbound({ capacity: 1 });

  constructor(config: SaConfig) {
    this.sa = createSaRuntime(config);
  }

  seal(inner: Uint8Array): Uint8Array {
    const v = vectorOf([inner]);
    this.encoder.encapsulate(this.sa, v, 0, 1, 0);
    return packetAt(v, 0);
  }

  close(): void {
    this.sa.destroy();
  }
}
