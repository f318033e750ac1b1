import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Forwarder, waitFor } from './forwarder.ts';
import { ADDRESSES, type FourNamespaces } from './four-namespaces.ts';
import { run, spawnIn, stopGroup, which } from './shell.ts';

const CHARON = '/usr/lib/ipsec/charon';
const LIBIPSEC_PLUGIN = '/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so';
/** What charon loads: IKE with a PSK, AES-GCM through OpenSSL, ESP in userspace (libipsec) on a TUN. */
const PLUGINS =
  'random nonce openssl pem pkcs1 x509 pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici updown';

/**
 * strongSwan's userspace ESP: charon with the kernel-libipsec plugin, which keeps the SAs itself and
 * moves packets through a TUN device (ipsec0, MTU 1400, fixed), PSK authentication, ESP in UDP
 * (`encap = yes`) with AES-256-GCM-16. charon writes its pid file to a fixed path under /run, so each
 * one runs with a folder of its own bind-mounted on /run, in a mount namespace of its own; its vici
 * socket lands in that folder, where swanctl reaches it from outside.
 */
export class StrongswanLibipsec implements Forwarder {
  readonly name = 'strongSwan libipsec';
  readonly description =
    'strongSwan charon + kernel-libipsec, AES-256-GCM-16, ESP in UDP 4500, tunnel MTU 1400';
  readonly packages = [
    'strongswan-charon',
    'strongswan-swanctl',
    'libcharon-extra-plugins',
    'libstrongswan-extra-plugins',
    'libstrongswan-standard-plugins',
  ];
  private readonly children: ChildProcess[] = [];

  missing(): string[] {
    const out: string[] = [];
    if (!existsSync(CHARON)) out.push(CHARON);
    if (!existsSync(LIBIPSEC_PLUGIN)) out.push(LIBIPSEC_PLUGIN);
    for (const tool of ['swanctl', 'unshare', 'mount']) if (which(tool) === null) out.push(tool);
    return out;
  }

  async start(t: FourNamespaces, workDir: string): Promise<void> {
    const psk = randomBytes(24).toString('base64');
    const sides = [
      {
        side: 'a',
        ns: t.ns.gwA,
        local: ADDRESSES.gwAOutside,
        remote: ADDRESSES.gwBOutside,
        localTs: ADDRESSES.siteA,
        remoteTs: ADDRESSES.siteB,
      },
      {
        side: 'b',
        ns: t.ns.gwB,
        local: ADDRESSES.gwBOutside,
        remote: ADDRESSES.gwAOutside,
        localTs: ADDRESSES.siteB,
        remoteTs: ADDRESSES.siteA,
      },
    ];
    const uris: string[] = [];
    for (const s of sides) {
      const dir = join(workDir, `charon-${s.side}`);
      const runDir = join(dir, 'run');
      mkdirSync(runDir, { recursive: true });
      const vici = `unix://${join(runDir, 'charon.vici')}`;
      uris.push(vici);
      const conf = join(dir, 'strongswan.conf');
      writeFileSync(
        conf,
        `charon {
  load = ${PLUGINS}
  filelog {
    log {
      path = ${join(dir, 'charon.log')}
      default = 0
      ike = 1
    }
  }
  plugins {
    vici {
      socket = ${vici}
    }
  }
}
`,
      );
      const swanctl = join(dir, 'swanctl.conf');
      writeFileSync(
        swanctl,
        `connections {
  bench {
    local_addrs = ${s.local}
    remote_addrs = ${s.remote}
    encap = yes
    proposals = aes256gcm16-prfsha256-ecp256
    local {
      auth = psk
      id = gw-${s.side}
    }
    remote {
      auth = psk
      id = gw-${s.side === 'a' ? 'b' : 'a'}
    }
    children {
      net {
        local_ts = ${s.localTs}
        remote_ts = ${s.remoteTs}
        mode = tunnel
        esp_proposals = aes256gcm16
      }
    }
  }
}
secrets {
  ike-bench {
    id-a = gw-a
    id-b = gw-b
    secret = "${psk}"
  }
}
`,
        { mode: 0o600 },
      );
      const child = spawnIn(
        s.ns,
        [
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount --bind "$0" /run && exec ${CHARON}`,
          runDir,
        ],
        join(dir, 'charon.stdout'),
        { STRONGSWAN_CONF: conf },
      );
      this.children.push(child);
      await waitFor(() => existsSync(join(runDir, 'charon.vici')), 15_000, `charon's vici socket in ${s.ns}`);
      run('swanctl', ['--load-all', '--file', swanctl, '--uri', vici]);
    }
    run('swanctl', ['--initiate', '--child', 'net', '--timeout', '20', '--uri', uris[0]!], {
      timeoutMs: 30_000,
    });
    await waitFor(() => t.reachable(), 20_000, 'client to server through strongSwan libipsec');
  }

  pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopGroup(c)));
    this.children.length = 0;
  }
}
