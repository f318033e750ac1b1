import { randomBytes } from 'node:crypto';

export interface PairOptions {
  /** Outer family of ESP between the gateways. */
  readonly outer?: 4 | 6;
  /** 'udp' (ESP in UDP, port 4500) or 'raw-esp' (IP protocol 50). */
  readonly transport?: 'udp' | 'raw-esp';
  /** Per-resource SAs (RFC 9611): one outbound SA per worker in each direction. */
  readonly perWorker?: number;
  readonly mode?: 'tunnel' | 'iptfs';
  readonly workers?: number;
}

const addresses = {
  4: { a: '192.168.90.1', b: '192.168.90.2' },
  6: { a: 'fd90::1', b: 'fd90::2' },
} as const;

function key(): string {
  return randomBytes(36).toString('hex');
}

/**
 * The two gateways' configurations for the topology: site 10.1.0.0/24 behind A, 10.2.0.0/24 behind B,
 * AES-GCM-256 both ways, tunnel mode, inside a TUN device `esp0` routed for the far site, outside ESP
 * in UDP on 4500 (or raw ESP) on the link between them. Mirror images, same keys.
 */
export function gatewayPair(o: PairOptions = {}): { a: object; b: object } {
  const outer = addresses[o.outer ?? 4];
  const transport = o.transport ?? 'udp';
  const mode = o.mode ?? 'tunnel';
  const perWorker = o.perWorker ?? 0;
  const encap =
    transport === 'udp' ? { encap: { type: 'udp', sourcePort: 4500, destinationPort: 4500 } } : {};
  const aToB = perWorker === 0 ? [{ spi: 0x1001, key: key(), resource: null }] : [];
  const bToA = perWorker === 0 ? [{ spi: 0x2001, key: key(), resource: null }] : [];
  for (let w = 0; w < perWorker; w++) {
    aToB.push({ spi: 0x1100 + w, key: key(), resource: w as never });
    bToA.push({ spi: 0x2100 + w, key: key(), resource: w as never });
  }
  const sa = (
    name: string,
    spi: number,
    k: string,
    direction: 'in' | 'out',
    local: string,
    remote: string,
    resource: number | null,
  ) => ({
    name,
    spi,
    direction,
    mode,
    encryption: { algorithm: 'aes-gcm', keyBits: 256, key: k },
    local,
    remote,
    replayWindow: 4096,
    ...encap,
    ...(resource === null
      ? {}
      : { binding: { group: direction === 'out' ? 'per-worker' : 'per-worker-in', resource } }),
  });
  const side = (me: 'a' | 'b') => {
    const local = outer[me];
    const remote = outer[me === 'a' ? 'b' : 'a'];
    const outgoing = me === 'a' ? aToB : bToA;
    const incoming = me === 'a' ? bToA : aToB;
    const localSite = me === 'a' ? '10.1.0.0/24' : '10.2.0.0/24';
    const remoteSite = me === 'a' ? '10.2.0.0/24' : '10.1.0.0/24';
    const sas = [
      ...outgoing.map((s) => sa(`out-${s.spi.toString(16)}`, s.spi, s.key, 'out', local, remote, s.resource)),
      ...incoming.map((s) => sa(`in-${s.spi.toString(16)}`, s.spi, s.key, 'in', local, remote, s.resource)),
    ];
    const outTemplate =
      perWorker === 0 ? { mode, sa: { name: sas[0]!.name } } : { mode, saGroup: 'per-worker' };
    const inTemplate =
      perWorker === 0 ? { mode, sa: { name: sas[1]!.name } } : { mode, saGroup: 'per-worker-in' };
    return {
      ...(perWorker === 0
        ? {}
        : {
            saGroups: [
              { name: 'per-worker', resource: 'worker' },
              { name: 'per-worker-in', resource: 'worker' },
            ],
          }),
      sas,
      spd: {
        defaults: { out: 'allow', in: 'allow' },
        policies: [
          {
            id: 'to-far-site',
            direction: 'out',
            local: localSite,
            remote: remoteSite,
            action: 'protect',
            template: outTemplate,
          },
          {
            id: 'from-far-site',
            direction: 'in',
            local: localSite,
            remote: remoteSite,
            action: 'protect',
            template: inTemplate,
          },
        ],
      },
      interfaces: {
        inside: { type: 'tun', name: 'esp0' },
        outside: [{ type: transport, address: local }],
        natKeepaliveSeconds: 2,
      },
    };
  };
  return { a: side('a'), b: side('b') };
}
