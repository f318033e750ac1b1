import { type CipherSpec, cipherGeometry, hmacTagBytes } from '@espresso/crypto';
import type { StoredSaConfig } from '@espresso/sad';
import { type IpPrefix, parseIpAddress, readU32 } from '@espresso/wire';

/** An outbound SA instance as the path table needs it. */
export interface OutboundSaPath {
  readonly name: string;
  readonly spi: number;
  readonly config: StoredSaConfig;
}

/** Inner destinations and the outbound SAs that may carry them (from the outbound protect policies). */
export interface InnerRoute {
  readonly prefix: IpPrefix;
  readonly sas: readonly string[];
}

/** Told when outbound SA `sa`'s path MTU changed to `pathMtu` (learned from ICMP, or aged back). */
export type PathMtuListener = (sa: string, pathMtu: number) => void;

/** RFC 1191 §6.3: a lowered path MTU is raised again after this long, in case the path grew. */
export const PMTU_AGE_MS = 10 * 60 * 1000;
/** The smallest path MTU believed: IPv4's minimum datagram every link passes (RFC 791), IPv6's link MTU. */
const MIN_PMTU_4 = 576;
const MIN_PMTU_6 = 1280;

/** What the path table keeps per outbound SA: where it goes, what it adds, and its path MTU. */
export class SaPath {
  readonly name: string;
  readonly spi: number;
  readonly version: 4 | 6;
  readonly remote: Uint32Array;
  /** UDP destination port, or -1 for raw ESP. */
  readonly remotePort: number;
  /** Bytes ESP adds besides padding and the two trailer bytes: outer header, UDP, SPI, sequence, IV, ICV. */
  readonly fixedOverhead: number;
  readonly alignBytes: number;
  /** Transport mode keeps the packet's own header: the alignment does not apply to it alone. */
  readonly transport: boolean;
  /**
   * IP-TFS spreads inner packets over outer ones: no inner packet is too big for the path, only for the
   * link it came in on, whose MTU (the outside link's) it keeps.
   */
  readonly unlimited: boolean;
  private readonly linkMtu: number;
  pmtu: number;
  learnedAt = 0;

  constructor(sa: OutboundSaPath, pmtu: number) {
    const c = sa.config;
    this.name = sa.name;
    this.spi = sa.spi;
    const remote = parseIpAddress(c.remote);
    this.version = remote?.version ?? 4;
    this.remote = remote?.words ?? new Uint32Array(4);
    this.remotePort = c.encap === undefined ? -1 : (c.encap.destinationPort ?? 4500);
    const combined = c.encryption.algorithm !== 'aes-cbc' && c.encryption.algorithm !== 'null';
    const integrity = combined ? 'none' : (c.integrity?.algorithm ?? 'none');
    const spec: CipherSpec = {
      encryption: c.encryption.algorithm,
      keyBits: 256,
      icvBytes: combined ? (c.encryption.icvBytes ?? 16) : hmacTagBytes(integrity),
      integrity,
      esn: c.esn ?? false,
      implicitIv: c.implicitIv ?? false,
    } as CipherSpec;
    const g = cipherGeometry(spec);
    const mode = c.mode as string;
    this.transport = mode === 'transport';
    this.unlimited = mode === 'iptfs';
    const outerIp = this.transport ? 0 : this.version === 4 ? 20 : 40;
    this.fixedOverhead = outerIp + (c.encap === undefined ? 0 : 8) + 8 + g.ivBytes + g.icvBytes;
    this.alignBytes = Math.max(4, g.blockBytes);
    this.pmtu = pmtu;
    this.linkMtu = pmtu;
  }

  /** The largest inner packet whose ESP packet fits the path MTU. */
  get innerMtu(): number {
    if (this.unlimited) return this.linkMtu;
    const room = this.pmtu - this.fixedOverhead;
    if (this.transport) return room - 2 - (this.alignBytes - 1);
    return Math.floor(room / this.alignBytes) * this.alignBytes - 2;
  }
}

interface RouteEntry {
  readonly version: 4 | 6;
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
  readonly length: number;
  readonly paths: SaPath[];
  mtu: number;
}

const allOnes = 0xffffffff;

/**
 * Per-SA path MTU and overhead, and the inner routes they serve (RFC 4301 §8: PMTU kept per SA). io asks
 * it, for each packet from the inside, how large an inner packet its destination's SA can carry, and
 * for each ESP packet it sends, its SA's path MTU; ICMP errors about ESP packets lower an SA's path MTU
 * (`learn`), which comes back up after PMTU_AGE_MS. Lookups read typed arrays; rebuilt on SA and policy
 * changes (rare), keeping what was learned for the SAs that remain.
 */
export class PathTable {
  /** The path MTU assumed until an ICMP error says otherwise: the outside link's MTU. */
  defaultMtu: number;
  private paths = new Map<string, SaPath>();
  private bySpi = new Map<number, SaPath>();
  private routes: RouteEntry[] = [];
  private readonly onChange: PathMtuListener | null;

  /** `onChange` hears of every SA whose path MTU an ICMP error lowered or age raised back. */
  constructor(defaultMtu: number, onChange: PathMtuListener | null = null) {
    this.defaultMtu = defaultMtu;
    this.onChange = onChange;
  }

  rebuild(sas: readonly OutboundSaPath[], routes: readonly InnerRoute[]): void {
    const paths = new Map<string, SaPath>();
    for (const sa of sas) {
      const path = new SaPath(sa, this.defaultMtu);
      const old = this.paths.get(sa.name);
      if (old !== undefined && old.learnedAt > 0 && old.pmtu < path.pmtu) {
        path.pmtu = old.pmtu;
        path.learnedAt = old.learnedAt;
      }
      paths.set(sa.name, path);
    }
    this.paths = paths;
    this.bySpi = new Map([...paths.values()].map((p) => [p.spi, p]));
    const entries: RouteEntry[] = [];
    for (const route of routes) {
      const carried = route.sas.map((n) => paths.get(n)).filter((p) => p !== undefined);
      if (carried.length === 0) continue;
      const masks = new Uint32Array(4);
      const words = new Uint32Array(4);
      const first = route.prefix.version === 4 ? 3 : 0;
      let bits = route.prefix.length;
      for (let i = first; i < 4; i++) {
        const take = Math.min(32, Math.max(0, bits));
        masks[i] = take === 0 ? 0 : (allOnes << (32 - take)) >>> 0;
        words[i] = (route.prefix.words[i]! & masks[i]!) >>> 0;
        bits -= 32;
      }
      entries.push({
        version: route.prefix.version,
        words,
        masks,
        length: route.prefix.length,
        paths: carried,
        mtu: 0,
      });
    }
    entries.sort((a, b) => b.length - a.length);
    this.routes = entries;
    this.refreshRoutes();
  }

  /**
   * The largest inner packet the SAs serving the destination of the IP packet at `at` carry, or 0 when
   * no route covers it (the workers then decide what becomes of it).
   */
  innerMtu(buf: Uint8Array, at: number): number {
    const version = buf[at]! >>> 4;
    const routes = this.routes;
    for (let r = 0; r < routes.length; r++) {
      const e = routes[r]!;
      if (e.version !== version) continue;
      if (version === 4) {
        if ((readU32(buf, at + 16) & e.masks[3]!) >>> 0 === e.words[3]) return e.mtu;
      } else if (
        (readU32(buf, at + 24) & e.masks[0]!) >>> 0 === e.words[0] &&
        (readU32(buf, at + 28) & e.masks[1]!) >>> 0 === e.words[1] &&
        (readU32(buf, at + 32) & e.masks[2]!) >>> 0 === e.words[2] &&
        (readU32(buf, at + 36) & e.masks[3]!) >>> 0 === e.words[3]
      ) {
        return e.mtu;
      }
    }
    return 0;
  }

  /** The path MTU of the outbound SA with this SPI, or the default. */
  pmtuOfSpi(spi: number): number {
    return this.bySpi.get(spi)?.pmtu ?? this.defaultMtu;
  }

  /**
   * An ICMP error said packets to `remote` (port `port`, -1 for raw ESP or unknown) need at most `mtu`
   * bytes; `spi` (or -1) names the SA when the error quoted enough of the ESP header. Lowers the path
   * MTU of the SAs it applies to; returns how many changed.
   */
  learn(version: 4 | 6, remote: Uint32Array, port: number, spi: number, mtu: number, nowMs: number): number {
    const floor = version === 4 ? MIN_PMTU_4 : MIN_PMTU_6;
    const value = Math.max(floor, Math.min(mtu, this.defaultMtu));
    let changed = 0;
    for (const p of this.paths.values()) {
      if (spi >= 0 ? p.spi !== spi : port >= 0 && p.remotePort !== port) continue;
      if (p.version !== version || !sameWords(p.remote, remote, version)) continue;
      const lower = value < p.pmtu;
      if (value <= p.pmtu) {
        p.pmtu = value;
        p.learnedAt = nowMs;
      }
      if (lower) {
        changed++;
        this.onChange?.(p.name, value);
      }
    }
    if (changed > 0) this.refreshRoutes();
    return changed;
  }

  /** Path MTUs learned more than PMTU_AGE_MS ago go back to the default. */
  age(nowMs: number): void {
    let changed = false;
    for (const p of this.paths.values()) {
      if (p.learnedAt === 0 || nowMs - p.learnedAt < PMTU_AGE_MS) continue;
      const was = p.pmtu;
      p.pmtu = this.defaultMtu;
      p.learnedAt = 0;
      changed = true;
      if (was !== p.pmtu) this.onChange?.(p.name, p.pmtu);
    }
    if (changed) this.refreshRoutes();
  }

  /** The smallest inner MTU of any outbound SA at the default path MTU (the inside device's MTU), or 0. */
  insideMtu(): number {
    let mtu = 0;
    for (const p of this.paths.values()) {
      const saved = p.pmtu;
      p.pmtu = this.defaultMtu;
      const inner = p.innerMtu;
      p.pmtu = saved;
      if (mtu === 0 || inner < mtu) mtu = inner;
    }
    return mtu;
  }

  /** Every outbound SA's path, for statistics and tests. */
  list(): SaPath[] {
    return [...this.paths.values()];
  }

  get(name: string): SaPath | undefined {
    return this.paths.get(name);
  }

  private refreshRoutes(): void {
    for (const e of this.routes) {
      let mtu = 0xffff;
      for (const p of e.paths) mtu = Math.min(mtu, p.innerMtu);
      e.mtu = mtu;
    }
  }
}

function sameWords(a: Uint32Array, b: Uint32Array, version: 4 | 6): boolean {
  if (version === 4) return a[3] === b[3];
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
