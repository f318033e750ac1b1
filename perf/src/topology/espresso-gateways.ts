import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Forwarder, waitFor } from './forwarder.ts';
import { ADDRESSES, type FourNamespaces } from './four-namespaces.ts';
import { spawnIn, stopGroup } from './shell.ts';

const MAIN = new URL('../../../control-plane/src/cli/main.ts', import.meta.url).pathname;
const PORT = 4500;

interface Side {
  readonly side: 'a' | 'b';
  readonly ns: string;
  readonly local: string;
  readonly remote: string;
  readonly localSite: string;
  readonly remoteSite: string;
}

/**
 * Espresso on both gateways: `espresso serve --config` with a TUN device inside and ESP in UDP on
 * port 4500 outside, AES-256-GCM-16 tunnel-mode SAs both ways (fresh keys each run), the TUN device's
 * MTU and routes left to Espresso. With several workers, each gateway protects with an SA group keyed
 * by worker (one outbound SA per worker, RFC 9611).
 */
export class EspressoGateways implements Forwarder {
  readonly name = 'Espresso';
  readonly description: string;
  readonly packages: readonly string[] = [];
  private readonly workers: number;
  private readonly children: ChildProcess[] = [];

  constructor(workers: number) {
    this.workers = workers;
    this.description = `espresso serve, ${workers} worker(s) per gateway, AES-256-GCM-16, ESP in UDP ${PORT}, TUN inside`;
  }

  missing(): string[] {
    return existsSync('/dev/net/tun') ? [] : ['/dev/net/tun'];
  }

  async start(t: FourNamespaces, workDir: string): Promise<void> {
    const A = ADDRESSES;
    const sides: Side[] = [
      {
        side: 'a',
        ns: t.ns.gwA,
        local: A.gwAOutside,
        remote: A.gwBOutside,
        localSite: A.siteA,
        remoteSite: A.siteB,
      },
      {
        side: 'b',
        ns: t.ns.gwB,
        local: A.gwBOutside,
        remote: A.gwAOutside,
        localSite: A.siteB,
        remoteSite: A.siteA,
      },
    ];
    // Per direction and worker: one SPI and key, shared by the sender's outbound and the receiver's inbound SA.
    const keys = new Map<string, string>();
    const keyOf = (from: 'a' | 'b', w: number) => {
      const id = `${from}${w}`;
      if (!keys.has(id)) keys.set(id, randomBytes(36).toString('hex'));
      return keys.get(id)!;
    };
    for (const s of sides) {
      const file = join(workDir, `espresso-${s.side}.json`);
      writeFileSync(file, JSON.stringify(this.config(s, keyOf), null, 2), { mode: 0o600 });
      const log = join(workDir, `espresso-${s.side}.log`);
      const child = spawnIn(
        s.ns,
        [
          process.execPath,
          MAIN,
          'serve',
          '--config',
          file,
          '--listen',
          '127.0.0.1:0',
          '--workers',
          String(this.workers),
          '--log-level',
          'warn',
        ],
        log,
      );
      this.children.push(child);
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`espresso serve in ${s.ns} exited: ${tail(log)}`);
          return existsSync(log) && /listening on http/.test(readFileSync(log, 'utf8'));
        },
        30_000,
        `espresso serve in ${s.ns}`,
      );
    }
    await waitFor(() => t.reachable(), 20_000, 'client to server through Espresso');
  }

  pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopGroup(c, 10_000)));
    this.children.length = 0;
  }

  private config(s: Side, keyOf: (from: 'a' | 'b', w: number) => string): Record<string, unknown> {
    const peer = s.side === 'a' ? 'b' : 'a';
    const group = this.workers > 1;
    const sas: Record<string, unknown>[] = [];
    for (let w = 0; w < this.workers; w++) {
      const common = {
        mode: 'tunnel',
        local: s.local,
        remote: s.remote,
        encap: { type: 'udp', sourcePort: PORT, destinationPort: PORT },
      };
      sas.push({
        ...common,
        name: `out-${w}`,
        spi: spiOf(s.side, w),
        direction: 'out',
        encryption: { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 16, key: keyOf(s.side, w) },
        ...(group ? { binding: { group: 'out', resource: w } } : {}),
      });
      sas.push({
        ...common,
        name: `in-${w}`,
        spi: spiOf(peer, w),
        direction: 'in',
        encryption: { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 16, key: keyOf(peer, w) },
        replayWindow: 4096,
      });
    }
    return {
      version: 1,
      interfaces: {
        inside: { type: 'tun', name: `esp${s.side}` },
        outside: [{ type: 'udp', address: s.local, port: PORT }],
      },
      ...(group ? { saGroups: [{ name: 'out', resource: 'worker' }] } : {}),
      sas,
      spd: {
        policies: [
          {
            id: 'out',
            direction: 'out',
            local: s.localSite,
            remote: s.remoteSite,
            action: 'protect',
            template: group ? { mode: 'tunnel', saGroup: 'out' } : { mode: 'tunnel', sa: { name: 'out-0' } },
          },
          {
            id: 'in',
            direction: 'in',
            local: s.localSite,
            remote: s.remoteSite,
            action: 'protect',
            template: { mode: 'tunnel' },
          },
        ],
      },
    };
  }
}

/** SPIs: 0xa000 + worker from gateway A, 0xb000 + worker from gateway B. */
function spiOf(from: 'a' | 'b', worker: number): number {
  return (from === 'a' ? 0xa000 : 0xb000) + worker;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' / ');
  } catch {
    return '(no log)';
  }
}
