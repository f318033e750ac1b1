import { execFileSync } from 'node:child_process';
import { formatPrefix, type IpPrefix } from '@espresso/wire';

/**
 * Packets the kernel queues for each TUN queue until io reads them (the device's txqueuelen; the
 * kernel's default is 500). A longer queue rides out moments when io's thread is not running (on a
 * shared machine, tens of milliseconds): at 50 000 packets/s, 500 is 10 ms, 4096 is 80 ms.
 */
export const TUN_QUEUE_PACKETS = 4096;

/**
 * The kernel's side of the inside TUN device, set with iproute2: up with a queue of TUN_QUEUE_PACKETS,
 * its MTU (what the SAs' overhead
 * leaves of the outside MTU, so the kernel answers senders of larger DF packets with ICMP and fragments
 * the others instead of them being lost), and a route per protected prefix into it.
 */
export class TunLink {
  readonly name: string;
  mtu = 0;
  private readonly routes = new Map<string, IpPrefix>();

  constructor(name: string) {
    this.name = name;
  }

  setMtu(mtu: number): void {
    if (mtu === this.mtu) return;
    ip(['link', 'set', 'dev', this.name, 'mtu', String(mtu)]);
    this.mtu = mtu;
  }

  up(): void {
    ip(['link', 'set', 'dev', this.name, 'txqueuelen', String(TUN_QUEUE_PACKETS), 'up']);
  }

  /** Routes exactly these prefixes into the device (adding and removing what changed). */
  syncRoutes(prefixes: readonly IpPrefix[]): void {
    const wanted = new Map(prefixes.map((p) => [formatPrefix(p), p]));
    for (const [text, p] of this.routes) {
      if (wanted.has(text)) continue;
      ip([p.version === 4 ? '-4' : '-6', 'route', 'del', text, 'dev', this.name], true);
      this.routes.delete(text);
    }
    for (const [text, p] of wanted) {
      if (this.routes.has(text)) continue;
      ip([p.version === 4 ? '-4' : '-6', 'route', 'replace', text, 'dev', this.name]);
      this.routes.set(text, p);
    }
  }

  get routed(): string[] {
    return [...this.routes.keys()];
  }
}

function ip(args: string[], quiet = false): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    if (quiet) return;
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (error as Error).message}`);
  }
}
