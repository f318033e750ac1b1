import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * The IP-TFS parameters of an SA: the fragment the ESP SA schema includes under `iptfs`. Each knob of
 * Linux's `ip xfrm state ... iptfs` has its counterpart, named in its description; the rest (constant
 * rate, congestion control, ECN, padding) are what Linux lacks and RFC 9347 §2.4 and §3 describe.
 */
const integer = (minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, description });

export const IptfsConfigSchema = Type.Object(
  {
    packetSize: Type.Optional(
      integer(
        0,
        65535,
        'Linux pkt_size: size of each outer IP packet in octets, headers and ESP trailer included; 0 (the default) uses the path MTU',
      ),
    ),
    maxQueueBytes: Type.Optional(
      integer(
        1500,
        1 << 26,
        'Linux max_queue_size: octets of inner packets the send queue holds; default 1048576 (a packet arriving at a full queue is dropped)',
      ),
    ),
    initDelayUs: Type.Optional(
      integer(
        0,
        10_000_000,
        'Linux init_delay: microseconds a packet waits in an empty send queue for others to aggregate with; default 0',
      ),
    ),
    dropTimeUs: Type.Optional(
      integer(
        1,
        60_000_000,
        'Linux drop_time: microseconds the receiver waits for a missing outer packet before declaring it lost; default 1000000',
      ),
    ),
    reorderWindow: Type.Optional(
      integer(
        0,
        65535,
        'Linux reorder_window: outer packets the receiver holds while an earlier one is missing; default 3 (RFC 9347 §2.2.3)',
      ),
    ),
    dontFragment: Type.Optional(
      Type.Boolean({
        description:
          'Linux dont_frag: never split an inner packet across outer packets; oversized ones get ICMP too-big (IPv4 without DF is IP-fragmented); default false',
      }),
    ),
    constantRate: Type.Optional(
      Type.Object(
        {
          bitsPerSecond: Type.Integer({
            minimum: 8000,
            maximum: 400_000_000_000,
            description:
              'tunnel bandwidth (RFC 9347 §4.1): outer packets of the fixed size leave at this rate, all-pad ones when idle',
          }),
          maxBurst: Type.Optional(
            integer(
              1,
              1024,
              'departures sent back to back after a stall before the schedule skips ahead; default 4',
            ),
          ),
        },
        { additionalProperties: false, description: 'constant-rate mode (no Linux counterpart)' },
      ),
    ),
    congestionControl: Type.Optional(
      Type.Boolean({
        description:
          'RFC 9347 §2.4.2: adapt the constant rate to the loss the peer reports (TFRC, RFC 5348); requires constantRate, whose rate is then the ceiling; default false',
      }),
    ),
    ecn: Type.Optional(
      Type.Boolean({
        description:
          'RFC 9347 §3.1: send outer packets ECN-capable and count Congestion Experienced as loss; default false (§9: a covert channel)',
      }),
    ),
    padToSize: Type.Optional(
      Type.Boolean({
        description:
          'pad every outer packet to the full size even on demand (constant-rate mode always does); default false, as Linux',
      }),
    ),
    congestionPair: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'RFC 9347 §6: the outbound and the inbound SA of this gateway with the same label share congestion control: the inbound one measures the loss its peer suffers and takes the congestion headers its peer sends, the outbound one reports that loss and adapts its rate to what the peer reports; requires congestionControl',
      }),
    ),
  },
  { additionalProperties: false },
);

export type IptfsConfig = Static<typeof IptfsConfigSchema>;

/** The configuration with defaults filled in: what the sender and receiver are built from. */
export interface IptfsParameters {
  /** Outer IP packet size in octets, or 0 for the path MTU. */
  readonly packetSize: number;
  readonly maxQueueBytes: number;
  readonly initDelayUs: number;
  readonly dropTimeUs: number;
  readonly reorderWindow: number;
  readonly dontFragment: boolean;
  /** Bits per second of constant-rate mode, or 0 for on-demand sending. */
  readonly bitsPerSecond: number;
  readonly maxBurst: number;
  readonly congestionControl: boolean;
  readonly ecn: boolean;
  readonly padToSize: boolean;
  /** The label pairing this SA with the opposite-direction SA it shares congestion control with, or null. */
  readonly congestionPair: string | null;
}

export const IPTFS_DEFAULTS = {
  maxQueueBytes: 1 << 20,
  initDelayUs: 0,
  dropTimeUs: 1_000_000,
  reorderWindow: 3,
  maxBurst: 4,
} as const;

/** One field at fault: a JSON pointer and why. */
export interface IptfsConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class IptfsConfigError extends Error {
  readonly code = 'ERR_IPTFS_CONFIG' as const;
  readonly issues: readonly IptfsConfigIssue[];

  constructor(issues: readonly IptfsConfigIssue[]) {
    super(`invalid IP-TFS configuration: ${issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`);
    this.name = 'IptfsConfigError';
    this.issues = issues;
  }
}

const checker = Compile(IptfsConfigSchema);

/** The smallest outer packet IP-TFS accepts: room for headers and a useful payload. */
export const IPTFS_MIN_PACKET_SIZE = 128;

/**
 * Checks `input` against the schema and the rules a schema cannot state; paths are JSON pointers under
 * `basePath` (an SA document passes `/iptfs`). Returns the issues, empty when the configuration is good.
 */
export function validateIptfsConfig(input: unknown, basePath = ''): IptfsConfigIssue[] {
  if (!checker.Check(input)) {
    const issues = new Map<string, string>();
    for (const e of checker.Errors(input)) {
      if (e.keyword === 'additionalProperties') {
        const extra = (e.params as { additionalProperties?: string[] }).additionalProperties ?? [];
        for (const name of extra) issues.set(`${basePath}${e.instancePath}/${name}`, 'is not a known field');
        continue;
      }
      const path = basePath + e.instancePath;
      if (!issues.has(path)) issues.set(path, e.message);
    }
    return [...issues].map(([path, message]) => ({ path, message }));
  }
  const c = input as IptfsConfig;
  const issues: IptfsConfigIssue[] = [];
  if (c.packetSize !== undefined && c.packetSize !== 0 && c.packetSize < IPTFS_MIN_PACKET_SIZE) {
    issues.push({
      path: `${basePath}/packetSize`,
      message: `must be 0 (path MTU) or at least ${IPTFS_MIN_PACKET_SIZE}`,
    });
  }
  if (c.congestionPair !== undefined && c.congestionControl !== true) {
    issues.push({
      path: `${basePath}/congestionPair`,
      message: 'needs congestionControl: the pair shares congestion control',
    });
  }
  if (c.congestionControl === true && c.constantRate === undefined) {
    issues.push({
      path: `${basePath}/congestionControl`,
      message: 'needs constantRate: congestion control adapts the constant rate',
    });
  }
  return issues;
}

/** Validates (throwing `IptfsConfigError` naming every field at fault) and fills in the defaults. */
export function resolveIptfsConfig(input: unknown, basePath = ''): IptfsParameters {
  const issues = validateIptfsConfig(input ?? {}, basePath);
  if (issues.length > 0) throw new IptfsConfigError(issues);
  const c = (input ?? {}) as IptfsConfig;
  return {
    packetSize: c.packetSize ?? 0,
    maxQueueBytes: c.maxQueueBytes ?? IPTFS_DEFAULTS.maxQueueBytes,
    initDelayUs: c.initDelayUs ?? IPTFS_DEFAULTS.initDelayUs,
    dropTimeUs: c.dropTimeUs ?? IPTFS_DEFAULTS.dropTimeUs,
    reorderWindow: c.reorderWindow ?? IPTFS_DEFAULTS.reorderWindow,
    dontFragment: c.dontFragment ?? false,
    bitsPerSecond: c.constantRate?.bitsPerSecond ?? 0,
    maxBurst: c.constantRate?.maxBurst ?? IPTFS_DEFAULTS.maxBurst,
    congestionControl: c.congestionControl ?? false,
    ecn: c.ecn ?? false,
    padToSize: c.padToSize ?? false,
    congestionPair: c.congestionPair ?? null,
  };
}
