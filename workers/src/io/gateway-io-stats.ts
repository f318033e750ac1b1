import { dropReasonCount, dropReasons } from '@espresso/counters';

export interface EndpointStats {
  readonly kind: 'udp' | 'raw-esp';
  readonly address: string;
  readonly port: number | null;
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly sendErrors: number;
}

/** What `GET /v1/interfaces` shows of a gateway's io. */
export interface GatewayIoStats {
  readonly inside: {
    readonly name: string | null;
    readonly queues: number;
    readonly rxPackets: number;
    readonly rxBytes: number;
    readonly txPackets: number;
    readonly txBytes: number;
  };
  readonly outside: readonly EndpointStats[];
  readonly natKeepalives: { readonly sent: number; readonly received: number };
  readonly fragments: {
    readonly received: number;
    readonly reassembled: number;
    readonly inProgress: number;
    readonly sent: number;
  };
  readonly icmp: {
    readonly listening: boolean;
    readonly errorsSent: number;
    readonly suppressed: number;
    readonly tooBigReports: number;
  };
  /** io's own drops by reason name (the workers' are in the datapath statistics). */
  readonly drops: Readonly<Record<string, number>>;
  readonly paths: readonly {
    readonly sa: string;
    readonly spi: number;
    readonly pmtu: number;
    readonly innerMtu: number;
    readonly learnedAt: string | null;
  }[];
}

interface EndpointCounters {
  readonly address: string;
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly sendErrors: number;
}

export function endpointStats(
  kind: 'udp' | 'raw-esp',
  port: number | null,
  e: EndpointCounters,
): EndpointStats {
  return {
    kind,
    address: e.address,
    port,
    rxPackets: e.rxPackets,
    rxBytes: e.rxBytes,
    txPackets: e.txPackets,
    txBytes: e.txBytes,
    sendErrors: e.sendErrors,
  };
}

/** The reasons io dropped packets for, by name, those with a count only. */
export function dropsByName(drops: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let r = 0; r < dropReasonCount; r++) {
    const n = drops[r]!;
    if (n > 0) out[dropReasons[r]!.name] = n;
  }
  return out;
}
