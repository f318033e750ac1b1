import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Forwarder, waitFor } from './forwarder.ts';
import { ADDRESSES, type FourNamespaces } from './four-namespaces.ts';
import { run, runIn, spawnIn, stopGroup, which } from './shell.ts';

const PORT = 51820;
const MTU = 1420;

/**
 * wireguard-go (the userspace WireGuard) on both gateways, configured with wg(8). Its control sockets
 * live in /var/run/wireguard/<interface>.sock, a folder every namespace shares, so the two sides get
 * different interface names.
 */
export class WireguardGo implements Forwarder {
  readonly name = 'wireguard-go';
  readonly description = `wireguard-go, ChaCha20-Poly1305 in UDP ${PORT}, tunnel MTU ${MTU}`;
  readonly packages = ['wireguard-go', 'wireguard-tools'];
  private readonly children: ChildProcess[] = [];
  private readonly device: Record<'a' | 'b', string>;

  constructor(runId: string) {
    this.device = { a: `wga${runId}`.slice(0, 15), b: `wgb${runId}`.slice(0, 15) };
  }

  missing(): string[] {
    return ['wireguard-go', 'wg'].filter((t) => which(t) === null);
  }

  async start(t: FourNamespaces, workDir: string): Promise<void> {
    const keys = { a: this.keyPair(), b: this.keyPair() };
    const sides = [
      {
        side: 'a' as const,
        ns: t.ns.gwA,
        peer: 'b' as const,
        endpoint: ADDRESSES.gwBOutside,
        far: ADDRESSES.siteB,
      },
      {
        side: 'b' as const,
        ns: t.ns.gwB,
        peer: 'a' as const,
        endpoint: ADDRESSES.gwAOutside,
        far: ADDRESSES.siteA,
      },
    ];
    for (const s of sides) {
      const dev = this.device[s.side];
      const child = spawnIn(
        s.ns,
        [which('wireguard-go')!, '-f', dev],
        join(workDir, `wireguard-go-${s.side}.log`),
        {
          // Debian's wireguard-go refuses to start where the kernel has WireGuard unless told it is meant.
          WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
          LOG_LEVEL: 'error',
        },
      );
      this.children.push(child);
      await waitFor(() => this.hasDevice(s.ns, dev), 10_000, `wireguard-go ${dev} in ${s.ns}`);
      const keyFile = join(workDir, `wg-${s.side}.key`);
      writeFileSync(keyFile, `${keys[s.side].private}\n`, { mode: 0o600 });
      runIn(s.ns, [
        'wg',
        'set',
        dev,
        'private-key',
        keyFile,
        'listen-port',
        String(PORT),
        'peer',
        keys[s.peer].public,
        'endpoint',
        `${s.endpoint}:${PORT}`,
        'allowed-ips',
        s.far,
      ]);
      runIn(s.ns, ['ip', 'link', 'set', dev, 'mtu', String(MTU), 'up']);
      runIn(s.ns, ['ip', 'route', 'add', s.far, 'dev', dev]);
    }
    await waitFor(() => t.reachable(), 20_000, 'client to server through wireguard-go');
  }

  pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopGroup(c)));
    this.children.length = 0;
  }

  private keyPair(): { private: string; public: string } {
    const priv = run('wg', ['genkey']).trim();
    return { private: priv, public: run('wg', ['pubkey'], { input: `${priv}\n` }).trim() };
  }

  private hasDevice(ns: string, dev: string): boolean {
    try {
      runIn(ns, ['ip', 'link', 'show', dev]);
      return true;
    } catch {
      return false;
    }
  }
}
