import { Topology } from '@espresso/test/topology';
import { attempt, run } from './shell.ts';

/**
 * Addresses of the end-to-end tests' topology (test/src/e2e/topology.ts), which the benchmark reuses:
 * the sites are /16s so a forwarder routes one prefix each way.
 */
export const ADDRESSES = {
  client: '10.1.0.2',
  gwAInside: '10.1.0.1',
  gwAOutside: '192.168.90.1',
  gwBOutside: '192.168.90.2',
  gwBInside: '10.2.0.1',
  server: '10.2.0.2',
  siteA: '10.1.0.0/16',
  siteB: '10.2.0.0/16',
} as const;

export interface NamespaceNames {
  readonly client: string;
  readonly gwA: string;
  readonly gwB: string;
  readonly server: string;
}

/**
 * client — gwA — gwB — server in four network namespaces over veth pairs, as the end-to-end tests build
 * it (their Topology: the client and the server route through their gateway, the gateways forward with
 * rp_filter off); a forwarder under test adds the route for the far site into its tunnel. `destroy()`
 * stops every process left in the namespaces (forwarders, iperf3), then removes them; it runs on exit too.
 */
export class FourNamespaces {
  readonly ns: NamespaceNames;
  private readonly topology: Topology;
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  private constructor(topology: Topology) {
    this.topology = topology;
    this.ns = topology.ns;
  }

  static create(): FourNamespaces {
    const t = new FourNamespaces(new Topology());
    process.once('exit', t.onExit);
    return t;
  }

  /** Whether the client reaches the server (through whatever forwarder is up). */
  reachable(): boolean {
    return attempt('ip', ['netns', 'exec', this.ns.client, 'ping', '-c', '1', '-W', '1', ADDRESSES.server]);
  }

  /** Process ids of everything running in namespace `ns`. */
  pidsIn(ns: string): number[] {
    try {
      return run('ip', ['netns', 'pids', ns])
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    } catch {
      return [];
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    // Processes started in these namespaces would outlive them: stop them first.
    for (const ns of Object.values(this.ns)) {
      for (const pid of this.pidsIn(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    this.topology.remove();
  }
}
