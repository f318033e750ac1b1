import {
  createSaRuntime,
  EspInbound,
  InboundSaTable,
  type SaConfig,
  type SaRuntime,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { packetAt, vectorOf } from '@espresso/esp/testing';
import { readU32 } from '@espresso/wire';

export interface SinkResult {
  readonly spi: number;
  readonly sequence: number;
  /** The decrypted inner packet, or null with the drop reason. */
  readonly inner: Uint8Array | null;
  readonly verdict: number;
}

/**
 * The far end of a test: decrypts ESP packets with its own inbound SAs (built from the same
 * configurations, in this thread) and records every (SPI, sequence number) pair it sees, so a test can
 * check that no pair ever repeats (DESIGN invariant 2) independently of the datapath's replay windows.
 * Expects IPv4 outer headers without options and ESP straight in IP.
 */
export class EspSink {
  readonly seen = new Map<number, Set<number>>();
  duplicates = 0;
  private readonly table = new InboundSaTable();
  private readonly runtimes: SaRuntime[] = [];
  private readonly decoder: EspInbound;

  constructor(configs: readonly SaConfig[]) {
    for (const config of configs) {
      // A wide window: the sink checks uniqueness itself and must not drop what arrives out of order.
      const runtime = createSaRuntime({ ...config, replayWindow: 1 << 20 }, { id: this.runtimes.length });
      this.table.add(runtime);
      this.runtimes.push(runtime);
    }
    this.decoder = new EspInbound({ capacity: 1, table: this.table });
  }

  accept(packet: Uint8Array): SinkResult {
    const ihl = (packet[0]! & 0x0f) << 2;
    const spi = readU32(packet, ihl);
    const sequence = readU32(packet, ihl + 4);
    let seqs = this.seen.get(spi);
    if (seqs === undefined) {
      seqs = new Set();
      this.seen.set(spi, seqs);
    }
    if (seqs.has(sequence)) this.duplicates++;
    seqs.add(sequence);
    const v = vectorOf([packet]);
    this.decoder.decapsulate(v, 0, 1, 0);
    const verdict = v.verdict[0]!;
    return { spi, sequence, inner: verdict === VERDICT_FORWARD ? packetAt(v, 0) : null, verdict };
  }

  close(): void {
    for (const runtime of this.runtimes) runtime.destroy();
  }
}
