import { execFileSync, spawnSync } from 'node:child_process';

/** Whether this process can build the namespace topology: root, iproute2 and the tools the tests run. */
export function e2eSkipReason(tools: readonly string[] = []): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, TUN)';
  if (spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status !== 0)
    return 'needs iproute2 with netns';
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0)
      return `needs ${tool}`;
  }
  return false;
}

let counter = 0;

export type Node = 'client' | 'gwA' | 'gwB' | 'server';

/**
 * client -- gwA ==== gwB -- server, each in its own network namespace, joined by veth pairs:
 *
 *   client c0 10.1.0.2/24  --  a0 10.1.0.1/24 gwA a1 192.168.90.1/24 fd90::1/64
 *     ==  b1 192.168.90.2/24 fd90::2/64 gwB b0 10.2.0.1/24  --  s0 10.2.0.2/24 server
 *
 * The client and the server route everything through their gateway; the gateways forward. Each gateway
 * also has a management link to this (the test's) namespace, 172.31.<n>.1 here and .2 there, where its
 * API listens. Names are unique per process and call; `remove()` deletes the namespaces, which takes
 * every interface in them (and the far ends of the management links) with them.
 */
export class Topology {
  readonly id: string;
  readonly ns: Record<Node, string>;
  readonly mgmt: Record<
    'gwA' | 'gwB',
    { readonly here: string; readonly there: string; readonly link: string }
  >;
  #removed = false;

  constructor() {
    const n = (process.pid % 1000) * 10 + (counter++ % 10);
    this.id = `e${n}`;
    this.ns = {
      client: `esp-${this.id}-client`,
      gwA: `esp-${this.id}-gwA`,
      gwB: `esp-${this.id}-gwB`,
      server: `esp-${this.id}-server`,
    };
    const octet = (k: number) => (n * 2 + k) % 250;
    this.mgmt = {
      gwA: { here: `172.31.${octet(0)}.1`, there: `172.31.${octet(0)}.2`, link: `m${this.id}a` },
      gwB: { here: `172.31.${octet(1)}.1`, there: `172.31.${octet(1)}.2`, link: `m${this.id}b` },
    };
    try {
      this.build();
    } catch (error) {
      this.remove();
      throw error;
    }
  }

  private build(): void {
    for (const name of Object.values(this.ns)) {
      execFileSync('ip', ['netns', 'add', name]);
      this.ip(name, 'link', 'set', 'lo', 'up');
    }
    const { client, gwA, gwB, server } = this.ns;
    this.pair(client, 'c0', gwA, 'a0');
    this.pair(gwA, 'a1', gwB, 'b1');
    this.pair(gwB, 'b0', server, 's0');
    this.address(client, 'c0', '10.1.0.2/24');
    this.address(gwA, 'a0', '10.1.0.1/24');
    this.address(gwA, 'a1', '192.168.90.1/24', 'fd90::1/64');
    this.address(gwB, 'b1', '192.168.90.2/24', 'fd90::2/64');
    this.address(gwB, 'b0', '10.2.0.1/24');
    this.address(server, 's0', '10.2.0.2/24');
    this.ip(client, 'route', 'add', 'default', 'via', '10.1.0.1');
    this.ip(server, 'route', 'add', 'default', 'via', '10.2.0.1');
    for (const gw of [gwA, gwB]) {
      this.sysctl(gw, 'net.ipv4.ip_forward=1');
      this.sysctl(gw, 'net.ipv6.conf.all.forwarding=1');
      this.sysctl(gw, 'net.ipv4.conf.all.rp_filter=0');
      this.sysctl(gw, 'net.ipv4.conf.default.rp_filter=0');
    }
    for (const side of ['gwA', 'gwB'] as const) {
      const m = this.mgmt[side];
      execFileSync('ip', [
        'link',
        'add',
        m.link,
        'type',
        'veth',
        'peer',
        'name',
        'mgmt',
        'netns',
        this.ns[side],
      ]);
      execFileSync('ip', ['addr', 'add', `${m.here}/30`, 'dev', m.link]);
      execFileSync('ip', ['link', 'set', m.link, 'up']);
      this.address(this.ns[side], 'mgmt', `${m.there}/30`);
    }
  }

  private pair(nsA: string, ifA: string, nsB: string, ifB: string): void {
    execFileSync('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    this.ip(nsA, 'link', 'set', ifA, 'up');
    this.ip(nsB, 'link', 'set', ifB, 'up');
  }

  private address(ns: string, dev: string, ...addresses: string[]): void {
    for (const a of addresses) {
      this.ip(
        ns,
        ...(a.includes(':') ? ['-6', 'addr', 'add', a, 'dev', dev, 'nodad'] : ['addr', 'add', a, 'dev', dev]),
      );
    }
    this.ip(ns, 'link', 'set', dev, 'up');
  }

  private sysctl(ns: string, ...settings: string[]): void {
    spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings], { stdio: 'ignore' });
  }

  ip(ns: string, ...args: string[]): string {
    return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  }

  /** Runs a command in a namespace and waits for it (bounded). */
  run(node: Node, command: string, args: readonly string[], timeoutMs = 30_000) {
    return spawnSync('ip', ['netns', 'exec', this.ns[node], command, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    for (const name of Object.values(this.ns)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    for (const m of Object.values(this.mgmt)) spawnSync('ip', ['link', 'del', m.link], { stdio: 'ignore' });
  }
}
