import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Two /30 subnets of 172.16.0.0/12 for management links, starting from `seed`, that no address of this
 * (the test's) namespace is in: concurrent test processes each find their own.
 */
function freeManagementSubnets(seed: number): [string, string][] {
  const used = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const found: [string, string][] = [];
  for (let i = 0; found.length < 2 && i < 1 << 18; i++) {
    const index = (seed + i) % (1 << 18);
    const base = `172.${16 + (index >> 14)}.${(index >> 6) & 255}.`;
    const last = (index & 63) << 2;
    const here = `${base}${last + 1}`;
    if (used.includes(` ${base}${last + 1}/`) || used.includes(` ${base}${last + 2}/`)) continue;
    found.push([here, `${base}${last + 2}`]);
  }
  return found;
}

/** Whether this process can build the namespace topology: root, iproute2 and the tools the tests run. */
export function e2eSkipReason(tools: readonly string[] = []): string | false {
  const reason = missingPiece(tools);
  // CI installs every tool (.ci/run) and runs as root: there a missing piece is a failure, not a skip.
  if (reason !== false && process.env.CI === 'true')
    throw new Error(`end-to-end test ${reason}, which CI provides`);
  return reason;
}

function missingPiece(tools: readonly string[]): string | false {
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

/**
 * Namespaces and links not removed yet, and processes not stopped yet: removed and killed when the
 * process exits, so a test that timed out (its `finally` may not have run) leaves nothing behind.
 */
const leftovers = { namespaces: new Set<string>(), links: new Set<string>(), pids: new Set<number>() };
process.on('exit', () => {
  for (const pid of leftovers.pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const name of leftovers.namespaces) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  for (const link of leftovers.links) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
});

/** Remembers a process started in a namespace until `forgetProcess` (it is killed at exit otherwise). */
export function trackProcess(pid: number | undefined): void {
  if (pid !== undefined) leftovers.pids.add(pid);
}

export function forgetProcess(pid: number | undefined): void {
  if (pid !== undefined) leftovers.pids.delete(pid);
}

export type Node = 'client' | 'gwA' | 'gwB' | 'server';

/**
 * client -- gwA ==== gwB -- server, each in its own network namespace, joined by veth pairs:
 *
 *   client c0 10.1.0.2/24  --  a0 10.1.0.1/24 gwA a1 192.168.90.1/24 fd90::1/64
 *     ==  b1 192.168.90.2/24 fd90::2/64 gwB b0 10.2.0.1/24  --  s0 10.2.0.2/24 server
 *
 * The client and the server route everything through their gateway; the gateways forward. Each gateway
 * also has a management link to this (the test's) namespace, a /30 of 172.16.0.0/12, where its
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
    const k = counter++;
    this.id = `e${process.pid}x${k}`;
    this.ns = {
      client: `esp-${this.id}-client`,
      gwA: `esp-${this.id}-gwA`,
      gwB: `esp-${this.id}-gwB`,
      server: `esp-${this.id}-server`,
    };
    const [a, b] = freeManagementSubnets(process.pid * 64 + k * 2);
    this.mgmt = {
      gwA: { here: a![0], there: a![1], link: `m${process.pid}x${k}a` },
      gwB: { here: b![0], there: b![1], link: `m${process.pid}x${k}b` },
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
      leftovers.namespaces.add(name);
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
      leftovers.links.add(m.link);
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
    for (const name of Object.values(this.ns)) {
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      leftovers.namespaces.delete(name);
    }
    for (const m of Object.values(this.mgmt)) {
      spawnSync('ip', ['link', 'del', m.link], { stdio: 'ignore' });
      leftovers.links.delete(m.link);
    }
  }
}
