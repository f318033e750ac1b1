import { EspInbound, type IkeSink } from '../inbound.ts';
import { InboundSaTable } from '../inbound-sa-table.ts';
import { EspOutbound } from '../outbound.ts';
import type { PacketVector } from '../packet-vector.ts';
import type { SaConfig } from '../sa-config.ts';
import { SaEventQueue } from '../sa-events.ts';
import { createSaRuntime, type SaRuntime, type SaRuntimeOptions } from '../sa-runtime.ts';
import {
  ADDRESSES,
  type AlgorithmCase,
  algorithmCases,
  innerPacket,
  type PairOptions,
  packetAt,
  saPair,
  vectorOf,
} from './fixtures.ts';

/** Two ends of one SA direction: A's outbound SA and B's inbound SA, each with its worker-side processor. */
export interface EspLink {
  readonly out: SaRuntime;
  readonly in: SaRuntime;
  readonly table: InboundSaTable;
  readonly encoder: EspOutbound;
  readonly decoder: EspInbound;
  readonly events: SaEventQueue;
  readonly config: { readonly out: SaConfig; readonly in: SaConfig };
  /** Encapsulates inner packets at time `now`; returns the vector holding the outer packets. */
  send(inner: readonly Uint8Array[], now?: number): PacketVector;
  /** Copies of the outer packets `send` produced, for feeding (changed) to `receive`. */
  wire(v: PacketVector): Uint8Array[];
  receive(packets: readonly Uint8Array[], now?: number): PacketVector;
}

export interface LinkOptions extends PairOptions {
  readonly alg?: AlgorithmCase;
  /** Configuration only the inbound SA gets. */
  readonly inExtra?: Partial<SaConfig>;
  readonly outOptions?: SaRuntimeOptions;
  readonly inOptions?: SaRuntimeOptions;
  readonly ikeSink?: IkeSink;
  readonly capacity?: number;
}

export function espLink(o: LinkOptions = {}): EspLink {
  const alg = o.alg ?? algorithmCases()[2]!;
  const config = saPair(alg, o);
  const events = new SaEventQueue();
  const out = createSaRuntime(config.out, { id: 1, events, ...o.outOptions });
  const inbound = createSaRuntime({ ...config.in, ...o.inExtra }, { id: 2, events, ...o.inOptions });
  const table = new InboundSaTable();
  table.add(inbound);
  const capacity = o.capacity ?? 64;
  const encoder = new EspOutbound({ capacity });
  const decoder = new EspInbound({
    capacity,
    table,
    ...(o.ikeSink === undefined ? {} : { ikeSink: o.ikeSink }),
  });
  return {
    out,
    in: inbound,
    table,
    encoder,
    decoder,
    events,
    config,
    send(inner, now = 0) {
      const v = vectorOf(inner);
      encoder.encapsulate(out, v, 0, v.count, now);
      return v;
    },
    wire(v) {
      const packets: Uint8Array[] = [];
      for (let i = 0; i < v.count; i++) packets.push(packetAt(v, i));
      return packets;
    },
    receive(packets, now = 0) {
      const v = vectorOf(packets);
      decoder.decapsulate(v, 0, v.count, now);
      return v;
    },
  };
}

/** Inner test packets for a link's mode and families (transport mode uses the outer addresses). */
export function innerFor(o: PairOptions, sizes: readonly number[]): Uint8Array[] {
  const transport = o.mode === 'transport';
  const outerVersion = o.outerVersion ?? 4;
  const version = transport ? outerVersion : (o.innerVersion ?? outerVersion);
  const a = ADDRESSES[version];
  return sizes.map((payloadBytes, seed) =>
    innerPacket({
      version,
      src: transport ? a.a : a.innerA,
      dst: transport ? a.b : a.innerB,
      payloadBytes,
      seed,
    }),
  );
}
