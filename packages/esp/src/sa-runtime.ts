import { type CipherSpec, cipherGeometry, createSaCipher, type SaCipher } from '@espresso/crypto';
import {
  createIpv4Header,
  createIpv6Header,
  formatIpAddress,
  type IpAddress,
  type Ipv4Fields,
  type Ipv6Fields,
  onesComplementSum,
  writeU32,
} from '@espresso/wire';
import { SaLifetime } from './lifetime.ts';
import type { EspMode, ModeEnvironment } from './modes/mode.ts';
import { espModeFor } from './modes/registry.ts';
import { ReplayWindow } from './replay-window.ts';
import type { SaConfig } from './sa-config.ts';
import { parseSaConfig } from './sa-config-validate.ts';
import { type CounterBlock, createCounterBlock } from './sa-counters.ts';
import { ignoreSaEvents, type SaEventSink } from './sa-events.ts';
import { resolveValidSaConfig, type SaParameters, zeroSaParameters } from './sa-parameters.ts';
import { OutboundSequence } from './sequence.ts';

/** How an outbound SA fills the IV field, chosen once at install. */
export const IvKind = {
  /** The 64-bit sequence number (RFC 4106 §3.1 and its siblings: unique per key, which is all they need). */
  sequence: 0,
  /** Random bytes from the worker's pool: AES-CBC needs an unpredictable IV (RFC 3602 §2.4). */
  random: 1,
  /** No IV on the wire: null encryption, or an RFC 8750 implicit IV. */
  none: 2,
  /** A caller-supplied writer: published vectors with fixed IVs. */
  custom: 3,
} as const;
export type IvKind = (typeof IvKind)[keyof typeof IvKind];

export type IvWriter = (
  buf: Uint8Array,
  offset: number,
  ivBytes: number,
  seqHigh: number,
  seqLow: number,
) => void;

export interface SaRuntimeOptions {
  /** Identifies the SA in events and statistics; the control plane assigns it. */
  readonly id?: number;
  /** Clock reading in seconds when the SA was added (its add-time lifetime starts here). */
  readonly now?: number;
  readonly events?: SaEventSink;
  /** Storage for this SA's counters (e.g. a view into shared memory); a fresh block otherwise. */
  readonly counters?: Float64Array;
  /** A prebuilt crypto context instead of one from the registry; the runtime owns and destroys it. */
  readonly cipher?: SaCipher;
  /** Fixed IVs for known-answer tests; production SAs never set this. */
  readonly ivWriter?: IvWriter;
  /** First outer IPv4 identification; random otherwise. */
  readonly firstIdentification?: number;
  /** What the datapath offers the SA's mode when it builds its state (IP-TFS: the inner packet sink). */
  readonly modeEnvironment?: ModeEnvironment;
  /**
   * The runtime of the same SA this one replaces (a configuration update): its replay window carries
   * over when the window size is unchanged, and its mode state when the mode can adopt it
   * (`EspMode.adopt`; otherwise it is left with `replaces`).
   */
  readonly replaces?: SaRuntime;
}

const noEnvironment: ModeEnvironment = {};

/** Scratch for the outer IPv4 addresses' checksum sum: a NAT mapping change recomputes it on the datapath. */
const outer4Addresses = new Uint8Array(8);

const SA_ACTIVE = 0;
const SA_DESTROYED = 1;

/**
 * The hot half of an SA (VPP's `ipsec_sa_t`): everything the per-packet path reads, computed once when
 * the SA is installed on the worker that owns it (DESIGN invariant 1): crypto context, header and
 * trailer geometry, the outer header template, the sequence counter or the replay window, lifetimes
 * and counters. Owned by one worker: no field is shared between threads except the counters' storage.
 */
export class SaRuntime {
  readonly id: number;
  readonly spi: number;
  readonly direction: 'in' | 'out';
  readonly domain: number;
  readonly mode: EspMode;
  readonly params: SaParameters;
  readonly spec: CipherSpec;
  readonly cipher: SaCipher;

  readonly ivBytes: number;
  readonly ivKind: IvKind;
  readonly ivWriter: IvWriter | null;
  /** Payload + trailer must be a multiple of this (4, or 16 for AES-CBC). */
  readonly alignBytes: number;
  readonly icvBytes: number;
  /** SPI + sequence + IV. */
  readonly espHeaderBytes: number;
  /** Header + IV + pad length + next header + ICV: the least an ESP packet adds. */
  readonly minimumOverhead: number;
  readonly esn: boolean;

  readonly sequence: OutboundSequence | null;
  readonly replay: ReplayWindow | null;
  readonly lifetime: SaLifetime;
  readonly counters: CounterBlock;
  readonly events: SaEventSink;

  /** Outer header (tunnel, BEET, dummy packets) written from these; the peer's address may move (NAT, MIGRATE). */
  readonly outerVersion: 4 | 6;
  readonly outerIpBytes: number;
  readonly outer4: Ipv4Fields;
  readonly outer6: Ipv6Fields;
  /** The outer IPv4 addresses' part of the header checksum sum, kept with the addresses. */
  outer4AddressSum = 0;
  /** Local and peer address as four words (IPv4 in word 3), for inbound matching. */
  readonly localWords: Uint32Array;
  readonly peerWords: Uint32Array;
  readonly matchSource: boolean;
  readonly encap: boolean;
  readonly udpBytes: number;
  /** UDP ports of this SA's packets on the wire (Linux `encap_sport`/`encap_dport`). */
  encapSourcePort: number;
  encapDestinationPort: number;
  identification: number;

  readonly tfcPadTo: number;
  /** Whether TFC padding applies to ordinary packets (tunnel mode: the inner header carries the length). */
  readonly tfcInner: boolean;
  /** -1 copies the inner DSCP. */
  readonly dscp: number;
  readonly ecnNormal: boolean;
  /** 0 copy, 1 set, 2 clear. */
  readonly df: 0 | 1 | 2;
  readonly flowLabelCopy: boolean;
  readonly ttl: number;

  /** BEET inner addresses (words), or null. */
  readonly beetVersion: 4 | 6;
  readonly beetLocal: Uint32Array;
  readonly beetRemote: Uint32Array;

  /**
   * The mode's own per-SA state (IP-TFS: its sender or receiver), built by `mode.init` and released by
   * `mode.destroy`; null for modes without state. Only the SA's mode reads it.
   */
  modeState: unknown = null;
  /**
   * Drops the mode counted outside any packet's verdict (IP-TFS: inner packets lost with a missing
   * outer packet, found by the reorder window or the drop timer), by DropReason code; null for modes
   * that have none. Kept apart from `counters`, which ESP fills from verdicts: a datapath adds these to
   * the SA's figures and to its own totals.
   */
  modeDrops: Float64Array | null = null;

  /** Inbound batch grouping: which batch last saw this SA, and its slot there. */
  batchEpoch = -1;
  batchSlot = 0;
  private state = SA_ACTIVE;
  private overflowReported = false;

  constructor(params: SaParameters, cipher: SaCipher, options: SaRuntimeOptions = {}) {
    this.params = params;
    this.id = options.id ?? 0;
    this.spi = params.spi;
    this.direction = params.direction;
    this.domain = params.domain;
    this.mode = espModeFor(params.mode);
    this.spec = params.cipherSpec;
    this.cipher = cipher;
    const g = cipherGeometry(this.spec);
    this.ivBytes = g.ivBytes;
    this.icvBytes = g.icvBytes;
    this.alignBytes = Math.max(4, g.blockBytes);
    this.espHeaderBytes = 8 + g.ivBytes;
    this.minimumOverhead = this.espHeaderBytes + 2 + this.icvBytes;
    this.esn = this.spec.esn;
    this.ivWriter = options.ivWriter ?? null;
    this.ivKind =
      this.ivWriter !== null
        ? IvKind.custom
        : g.ivBytes === 0
          ? IvKind.none
          : this.spec.encryption === 'aes-cbc'
            ? IvKind.random
            : IvKind.sequence;

    const now = options.now ?? 0;
    this.sequence =
      params.direction === 'out' ? new OutboundSequence(params.initialSequence, this.esn) : null;
    // An update keeps the window itself, bits and all: a packet still missing below its top (reordered,
    // or held for by IP-TFS reassembly) stays acceptable.
    const previousReplay = options.replaces?.replay ?? null;
    this.replay =
      params.direction !== 'in'
        ? null
        : previousReplay !== null && previousReplay.size === params.replayWindow
          ? previousReplay
          : new ReplayWindow(
              params.replayWindow,
              Number(params.initialReplayTop >> 32n),
              Number(params.initialReplayTop & 0xffffffffn),
            );
    this.lifetime = new SaLifetime(params.soft, params.hard, now);
    this.counters = createCounterBlock(options.counters);
    this.events = options.events ?? ignoreSaEvents;

    this.outerVersion = params.local.version;
    this.outerIpBytes = this.outerVersion === 4 ? 20 : 40;
    this.localWords = Uint32Array.from(params.local.words);
    this.peerWords = Uint32Array.from(params.remote.words);
    this.matchSource = params.matchSource;
    this.encap = params.encap !== null;
    this.udpBytes = this.encap ? 8 : 0;
    this.encapSourcePort = params.encap?.sourcePort ?? 0;
    this.encapDestinationPort = params.encap?.destinationPort ?? 0;
    this.identification = (options.firstIdentification ?? Math.floor(Math.random() * 0x10000)) & 0xffff;

    this.tfcPadTo = params.tfcPadTo;
    this.tfcInner = params.tfcPadTo > 0 && params.mode === 'tunnel';
    this.dscp = params.dscp;
    this.ecnNormal = params.ecn === 'normal';
    this.df = params.df === 'copy' ? 0 : params.df === 'set' ? 1 : 2;
    this.flowLabelCopy = params.flowLabel === 'copy';
    this.ttl = params.ttl;

    const out4 = createIpv4Header();
    const out6 = createIpv6Header();
    this.outer4 = out4;
    this.outer6 = out6;
    this.setOuterAddresses();

    this.beetVersion = params.beet?.innerLocal.version ?? 4;
    this.beetLocal = Uint32Array.from(params.beet?.innerLocal.words ?? [0, 0, 0, 0]);
    this.beetRemote = Uint32Array.from(params.beet?.innerRemote.words ?? [0, 0, 0, 0]);
    const env = options.modeEnvironment ?? noEnvironment;
    const previous = options.replaces;
    const adopted =
      previous !== undefined &&
      previous.mode === this.mode &&
      previous.direction === this.direction &&
      this.mode.adopt?.(this, previous, env) === true;
    if (!adopted) this.mode.init?.(this, env);
  }

  get active(): boolean {
    return this.state === SA_ACTIVE && !this.lifetime.expired;
  }

  get destroyed(): boolean {
    return this.state === SA_DESTROYED;
  }

  /**
   * The peer moved (MOBIKE, XFRM_MSG_MIGRATE, or a NAT mapping change seen inbound): later packets go
   * to, or are expected from, this address and UDP port. The address family cannot change.
   */
  updatePeer(address: IpAddress, port?: number): void {
    if (address.version !== this.outerVersion) throw new RangeError('the peer address family cannot change');
    this.peerWords.set(address.words);
    if (port !== undefined && this.encap) {
      if (this.direction === 'out') this.encapDestinationPort = port;
      else this.encapSourcePort = port;
    }
    this.setOuterAddresses();
  }

  /** The peer as text, for events. */
  peerText(): string {
    return formatIpAddress({ version: this.outerVersion, words: this.peerWords });
  }

  /** Checks time lifetimes now (a worker calls this on a timer for idle SAs) and raises due events. */
  pollExpiry(now: number): void {
    this.lifetime.checkTime(now);
    this.reportLifetime(now);
  }

  /** Raises the soft and hard expiry events that the last batch made due. */
  reportLifetime(now: number): void {
    const soft = this.lifetime.takeSoft();
    if (soft !== null) {
      this.events.emit({
        type: 'soft-expire',
        saId: this.id,
        spi: this.spi,
        direction: this.direction,
        limit: soft,
        at: now,
      });
    }
    const hard = this.lifetime.takeHard();
    if (hard !== null) {
      this.events.emit({
        type: 'hard-expire',
        saId: this.id,
        spi: this.spi,
        direction: this.direction,
        limit: hard,
        at: now,
      });
    }
  }

  /** Raised once, when the outbound sequence space is used up. */
  reportSequenceOverflow(now: number): void {
    if (this.overflowReported) return;
    this.overflowReported = true;
    this.events.emit({ type: 'sequence-overflow', saId: this.id, spi: this.spi, direction: 'out', at: now });
  }

  /** Releases the mode's state (zeroing what it queued) and zeroes and frees the crypto context. */
  destroy(): void {
    if (this.state === SA_DESTROYED) return;
    this.state = SA_DESTROYED;
    this.releaseModeState();
    this.cipher.destroy();
  }

  /**
   * Releases the mode's state alone: for a runtime replaced by a rebuilt one that took over its crypto
   * context (a migration) and did not adopt its mode state. Nothing to do when it was adopted.
   */
  releaseModeState(): void {
    if (this.modeState === null) return;
    this.mode.destroy?.(this);
    this.modeState = null;
  }

  private setOuterAddresses(): void {
    const outbound = this.direction === 'out';
    const src = outbound ? this.localWords : this.peerWords;
    const dst = outbound ? this.peerWords : this.localWords;
    this.outer4.src = src[3]!;
    this.outer4.dst = dst[3]!;
    this.outer6.src.set(src);
    this.outer6.dst.set(dst);
    writeU32(outer4Addresses, 0, this.outer4.src);
    writeU32(outer4Addresses, 4, this.outer4.dst);
    this.outer4AddressSum = onesComplementSum(outer4Addresses, 0, 8);
  }
}

/**
 * Builds the runtime of an SA from its configuration: validates it (throwing `SaConfigError` with the
 * field paths), derives the CipherSpec and keys, asks the crypto registry for a context on the chosen
 * engine, and zeroes the key copies it made. `config` may be unvalidated JSON.
 */
export function createSaRuntime(config: unknown, options: SaRuntimeOptions = {}): SaRuntime {
  const valid: SaConfig = parseSaConfig(config);
  const params = resolveValidSaConfig(valid);
  try {
    const cipher = options.cipher ?? createSaCipher(params.cipherSpec, params.keys, params.engine);
    try {
      return new SaRuntime(params, cipher, options);
    } catch (error) {
      cipher.destroy();
      throw error;
    }
  } finally {
    zeroSaParameters(params);
  }
}
