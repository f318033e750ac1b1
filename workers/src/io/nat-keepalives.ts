import { formatIpAddress } from '@espresso/wire';
import type { PathTable } from './path-table.ts';
import type { UdpOutside } from './udp-outside.ts';

/**
 * One NAT keepalive (RFC 3948 §2.3) to each distinct peer address and port of the UDP-encapsulated
 * outbound SAs, from the endpoint of its family. Returns how many went.
 */
export function sendNatKeepalives(
  paths: PathTable,
  endpointFor: (version: number) => UdpOutside | null,
): number {
  const seen = new Set<string>();
  let sent = 0;
  for (const p of paths.list()) {
    if (p.remotePort < 0) continue;
    const endpoint = endpointFor(p.version);
    if (endpoint === null) continue;
    const to = formatIpAddress({ version: p.version, words: p.remote });
    const key = `${to}|${p.remotePort}`;
    if (seen.has(key)) continue;
    seen.add(key);
    endpoint.sendKeepalive(to, p.remotePort);
    sent++;
  }
  return sent;
}
