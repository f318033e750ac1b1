import { attempt, run, runIn } from './shell.ts';

/** Addresses of the two-gateway topology; the sites are /16s so a forwarder routes one prefix each way. */
export const ADDRESSES = {
  client: '10.1.0.2',
  gwAInside: '10.1.0.1',
  gwAOutside: '192.0.2.1',
  gwBOutside: '192.0.2.2',
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
 * client — gwA — gwB — server, four network namespaces joined by three veth pairs:
 *
 * ```
 * client 10.1.0.2/24 | 10.1.0.1/24 gwA 192.0.2.1/24 | 192.0.2.2/24 gwB 10.2.0.1/24 | 10.2.0.2/24 server
 * ```
 *
 * The client and the server route the other site through their gateway; the gateways forward, and a
 * forwarder under test adds the route for the far site into its tunnel. Names carry a per-run prefix,
 * so a run never touches another's namespaces. `destroy()` stops every process left in them and
 * removes them; it runs on exit too.
 */
export class FourNamespaces {
  readonly ns: NamespaceNames;
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  private constructor(prefix: string) {
    this.ns = {
      client: `${prefix}-client`,
      gwA: `${prefix}-gwa`,
      gwB: `${prefix}-gwb`,
      server: `${prefix}-server`,
    };
  }

  static create(prefix: string): FourNamespaces {
    if (!/^[a-z0-9-]{1,20}$/.test(prefix)) throw new RangeError(`namespace prefix '${prefix}'`);
    const t = new FourNamespaces(prefix);
    process.once('exit', t.onExit);
    try {
      t.build();
    } catch (error) {
      t.destroy();
      throw error;
    }
    return t;
  }

  private build(): void {
    const { client, gwA, gwB, server } = this.ns;
    for (const ns of [client, gwA, gwB, server]) {
      run('ip', ['netns', 'add', ns]);
      runIn(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    // veth ends are named by the namespace they sit in and the one they face: c-a is the client's end toward gwA.
    this.veth(client, 'c-a', gwA, 'a-c');
    this.veth(gwA, 'a-b', gwB, 'b-a');
    this.veth(gwB, 'b-s', server, 's-b');
    const A = ADDRESSES;
    this.address(client, 'c-a', `${A.client}/24`);
    this.address(gwA, 'a-c', `${A.gwAInside}/24`);
    this.address(gwA, 'a-b', `${A.gwAOutside}/24`);
    this.address(gwB, 'b-a', `${A.gwBOutside}/24`);
    this.address(gwB, 'b-s', `${A.gwBInside}/24`);
    this.address(server, 's-b', `${A.server}/24`);
    runIn(client, ['ip', 'route', 'add', A.siteB, 'via', A.gwAInside]);
    runIn(server, ['ip', 'route', 'add', A.siteA, 'via', A.gwBInside]);
    for (const gw of [gwA, gwB]) {
      runIn(gw, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // Decrypted packets come in on a tunnel device whose prefix the kernel may not see as theirs.
      runIn(gw, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
      runIn(gw, ['sysctl', '-qw', 'net.ipv4.conf.default.rp_filter=0']);
    }
  }

  private veth(nsA: string, a: string, nsB: string, b: string): void {
    run('ip', ['link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
    runIn(nsA, ['ip', 'link', 'set', a, 'up']);
    runIn(nsB, ['ip', 'link', 'set', b, 'up']);
  }

  private address(ns: string, dev: string, cidr: string): void {
    runIn(ns, ['ip', 'addr', 'add', cidr, 'dev', dev]);
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
    const all = Object.values(this.ns);
    // Processes started in these namespaces (forwarders, iperf3) would outlive them: stop them first.
    for (const ns of all) {
      for (const pid of this.pidsIn(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    for (const ns of all) attempt('ip', ['netns', 'del', ns]);
  }
}
