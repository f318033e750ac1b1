import { DropReason, dropReasonCount } from '@espresso/counters';
import { checkCapabilities, type DriverCapabilities, type PlacementKind } from '../capabilities.ts';
import type {
  DriverEvent,
  DriverStats,
  OffloadDriver,
  OffloadPolicy,
  OffloadSaFinal,
  OffloadSaRequest,
  OffloadSaState,
  OffloadSaUpdate,
} from '../driver.ts';
import { DriverCounters } from '../driver-stats.ts';
import { done, type OffloadErrorCode, type OffloadResult, ok, refuse } from '../result.ts';
import { errnoName, NETLINK_XFRM } from '../xfrm/netlink.ts';
import {
  interfaceIndex,
  type NetlinkAnswer,
  NetlinkChannel,
  type NetlinkTransport,
  openNetlink,
} from '../xfrm/netlink-socket.ts';
import { policySpecFor, stateSpecFor, XFRM_MAX_REPLAY_WINDOW } from '../xfrm/xfrm-mapping.ts';
import { encodeDelPolicy, encodeNewPolicy, type XfrmPolicySpec } from '../xfrm/xfrm-policy.ts';
import {
  decodeSaInfo,
  encodeNewSa,
  encodeSaId,
  type XfrmStateInfo,
  type XfrmStateKey,
} from '../xfrm/xfrm-state.ts';
import { XfrmMsg } from '../xfrm/xfrm-wire.ts';

export interface LinuxXfrmOptions {
  /** The device's name in placements; default `xfrm` or `xfrm:<offloadDevice>`. */
  readonly device?: string;
  /** The NIC for `offload packet|crypto dev IFACE`; without it SAs go to the kernel's own ESP. */
  readonly offloadDevice?: string;
  /** A network namespace by name (/var/run/netns/NAME) to program instead of the process's own. */
  readonly netns?: string;
  /** XFRMA_IF_ID for every state; default: the SA's SAD domain. */
  readonly ifId?: number;
  /** A transport in place of the kernel (tests). */
  readonly transport?: NetlinkTransport;
}

interface InstalledState {
  readonly key: XfrmStateKey;
  readonly direction: 'in' | 'out';
  readonly kind: PlacementKind;
  readonly request: OffloadSaRequest;
}

const algorithms: DriverCapabilities['algorithms'] = [
  { encryption: 'aes-gcm', keyBits: [128, 192, 256], icvBytes: [8, 12, 16], integrity: ['none'] },
  { encryption: 'aes-gmac', keyBits: [128, 192, 256], integrity: ['none'] },
  { encryption: 'chacha20-poly1305', keyBits: [256], integrity: ['none'] },
  {
    encryption: 'aes-cbc',
    keyBits: [128, 192, 256],
    integrity: ['hmac-sha256-128', 'hmac-sha384-192', 'hmac-sha512-256'],
  },
  { encryption: 'null', keyBits: [0], integrity: ['hmac-sha256-128', 'hmac-sha384-192', 'hmac-sha512-256'] },
];

/**
 * The `linux-xfrm` driver: Espresso as the control plane of the Linux kernel's IPsec. It programs XFRM
 * states and policies over netlink (NETLINK_XFRM), with marks, if_id and `offload packet|crypto dev
 * IFACE`, so a host with a capable NIC gets hardware offload. Messages are built and parsed in
 * TypeScript (../xfrm/); @espresso/sys only opens the socket and moves bytes.
 *
 * Without `offloadDevice`, states and policies go to the kernel's own ESP ('software' placement from the
 * kernel's point of view): useful where the kernel should carry the traffic and for the tests. The
 * kernel enforces lifetimes itself; it reassembles fragments before ESP sees them.
 */
export class LinuxXfrmDriver implements OffloadDriver {
  readonly driver = 'linux-xfrm';
  readonly device: string;
  readonly #channel: NetlinkChannel | null;
  readonly #unavailable: string | null;
  readonly #ifindex: number | null;
  readonly #caps: DriverCapabilities;
  readonly #ifId: number | undefined;
  readonly #states = new Map<string, InstalledState>();
  readonly #policies = new Map<string, XfrmPolicySpec>();
  readonly #listeners = new Set<(event: DriverEvent) => void>();
  readonly #counters = new DriverCounters();
  readonly #vanished = new Set<string>();

  constructor(options: LinuxXfrmOptions = {}) {
    this.device =
      options.device ?? (options.offloadDevice === undefined ? 'xfrm' : `xfrm:${options.offloadDevice}`);
    this.#ifId = options.ifId;
    const transport = options.transport ?? openNetlink(NETLINK_XFRM, { netns: options.netns ?? null });
    let unavailable: string | null = typeof transport === 'string' ? transport : null;
    let ifindex: number | null = null;
    if (unavailable === null && options.offloadDevice !== undefined && options.transport === undefined) {
      const index = interfaceIndex(options.offloadDevice, options.netns ?? null);
      if (typeof index === 'string') unavailable = index;
      else ifindex = index;
    }
    this.#channel = typeof transport === 'string' ? null : new NetlinkChannel(transport);
    this.#unavailable = unavailable;
    this.#ifindex = options.offloadDevice === undefined ? null : (ifindex ?? 0);
    this.#caps = {
      offload: options.offloadDevice === undefined ? [] : ['packet', 'crypto'],
      algorithms,
      modes: ['tunnel', 'transport', 'beet'],
      maxSas: Number.MAX_SAFE_INTEGER,
      maxPolicies: Number.MAX_SAFE_INTEGER,
      maxReplayWindow: XFRM_MAX_REPLAY_WINDOW,
      esn: true,
      udpEncap: true,
      iptfs: false,
      ivGeneration: 'sequence',
      enforcesLifetimes: true,
      fragments: 'reassemble',
      domains: true,
      migrate: true,
    };
  }

  capabilities(): DriverCapabilities {
    return this.#caps;
  }

  unavailable(): string | null {
    return this.#unavailable;
  }

  async addSa(request: OffloadSaRequest): Promise<OffloadResult<void>> {
    const installed = this.#install(request, false);
    if (installed.ok) this.#counters.saAdds++;
    return this.#counters.count(installed);
  }

  async updateSa(name: string, update: OffloadSaUpdate): Promise<OffloadResult<void>> {
    const state = this.#states.get(name);
    if (state === undefined) return this.#counters.count(refuse('not-found', `no state for SA '${name}'`));
    const request = {
      ...state.request,
      config: update.config,
      keys: update.keys,
      generation: update.generation,
    };
    if (update.migration?.localAddress === undefined && update.migration?.remoteAddress === undefined) {
      return this.#counters.count(this.#install(request, true));
    }
    // The kernel names a state by its destination: a moved address is a new state that continues the
    // old one's sequence numbers.
    const info = this.#get(state.key);
    if (!info.ok) return this.#counters.count(info);
    const next = nextOf(info.value, state.direction);
    const carried = {
      ...request,
      config:
        state.direction === 'out'
          ? { ...request.config, initialSequence: next.toString() }
          : { ...request.config, initialReplay: { top: (next - 1n).toString() } },
    };
    const removed = this.#delete(state.key);
    if (!removed.ok) return this.#counters.count(removed);
    this.#states.delete(name);
    return this.#counters.count(this.#install(carried, false));
  }

  async deleteSa(name: string): Promise<OffloadResult<OffloadSaFinal>> {
    const state = this.#states.get(name);
    if (state === undefined) return this.#counters.count(refuse('not-found', `no state for SA '${name}'`));
    const info = this.#get(state.key);
    const removed = this.#delete(state.key);
    if (!removed.ok && removed.error.code !== 'not-found') return this.#counters.count(removed);
    this.#states.delete(name);
    this.#counters.saRemoves++;
    return ok({ state: info.ok ? toState(info.value, state.direction) : null });
  }

  async addPolicy(offered: OffloadPolicy): Promise<OffloadResult<void>> {
    const id = offered.policy.id;
    if (this.#policies.has(id))
      return this.#counters.count(refuse('exists', `policy '${id}' is in the kernel`));
    const onDevice = offered.sa !== null && this.#states.get(offered.sa.name)?.kind === 'packet';
    const spec = policySpecFor(offered, onDevice ? this.#ifindex : null);
    if (!spec.ok) return this.#counters.count(spec);
    const fail = this.#unavailableResult();
    if (fail !== null) return this.#counters.count(fail);
    const seq = this.#channel!.nextSeq();
    const answer = this.#channel!.request(encodeNewPolicy(spec.value, seq), seq);
    if (answer.errno !== 0) return this.#counters.count(kernelRefusal('XFRM_MSG_NEWPOLICY', answer));
    this.#policies.set(id, spec.value);
    this.#counters.policyAdds++;
    return done;
  }

  async deletePolicy(id: string): Promise<OffloadResult<void>> {
    const spec = this.#policies.get(id);
    if (spec === undefined)
      return this.#counters.count(refuse('not-found', `no policy '${id}' in the kernel`));
    const fail = this.#unavailableResult();
    if (fail !== null) return this.#counters.count(fail);
    const seq = this.#channel!.nextSeq();
    const answer = this.#channel!.request(encodeDelPolicy(spec, seq), seq);
    if (answer.errno !== 0 && answer.errno !== 2) {
      return this.#counters.count(kernelRefusal('XFRM_MSG_DELPOLICY', answer));
    }
    this.#policies.delete(id);
    this.#counters.policyRemoves++;
    return done;
  }

  readSa(name: string): OffloadResult<OffloadSaState> {
    const state = this.#states.get(name);
    if (state === undefined) return refuse('not-found', `no state for SA '${name}'`);
    const info = this.#get(state.key);
    if (!info.ok) {
      if (info.error.code === 'not-found' && !this.#vanished.has(name)) {
        // The kernel deletes a state at its hard limit (or on a flush); it says so on a multicast group
        // this driver does not join, so the disappearance is reported when it is seen.
        this.#vanished.add(name);
        for (const listener of this.#listeners) {
          listener({
            type: 'error',
            sa: name,
            code: 'not-found',
            message: 'the kernel no longer has the state',
          });
        }
      }
      return info;
    }
    return ok(toState(info.value, state.direction));
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): DriverStats {
    return this.#counters.snapshot(this.#states.size, this.#policies.size, 'reassemble', {
      offloadIfindex: this.#ifindex ?? 0,
    });
  }

  async close(): Promise<void> {
    this.#channel?.close();
  }

  #unavailableResult(): OffloadResult<never> | null {
    if (this.#channel === null || this.#unavailable !== null) {
      return refuse('unavailable', this.#unavailable ?? 'no netlink socket');
    }
    return null;
  }

  #install(request: OffloadSaRequest, update: boolean): OffloadResult<void> {
    const fit = checkCapabilities(this.#caps, request.config, request.kind);
    if (!fit.ok) return fit;
    const fail = this.#unavailableResult();
    if (fail !== null) return fail;
    const offload =
      request.kind === 'software' || this.#ifindex === null
        ? null
        : { ifindex: this.#ifindex, packet: request.kind === 'packet' };
    const spec = stateSpecFor(request.config, request.keys, {
      reqid: request.reqid,
      ifId: this.#ifId ?? request.config.domain ?? 0,
      offload,
    });
    if (!spec.ok) return spec;
    const seq = this.#channel!.nextSeq();
    const answer = this.#channel!.request(encodeNewSa(spec.value, seq, update), seq);
    if (answer.errno !== 0) return kernelRefusal(update ? 'XFRM_MSG_UPDSA' : 'XFRM_MSG_NEWSA', answer);
    const mark = spec.value.mark;
    this.#states.set(request.name, {
      key: { dst: spec.value.dst, src: spec.value.src, spi: spec.value.spi, mark },
      direction: request.config.direction,
      kind: request.kind,
      request: { ...request, keys: { encryptionKey: new Uint8Array(0), integrityKey: new Uint8Array(0) } },
    });
    this.#vanished.delete(request.name);
    return done;
  }

  #get(key: XfrmStateKey): OffloadResult<XfrmStateInfo> {
    const fail = this.#unavailableResult();
    if (fail !== null) return fail;
    const seq = this.#channel!.nextSeq();
    const answer = this.#channel!.request(encodeSaId(XfrmMsg.getSa, key, seq), seq);
    if (answer.errno !== 0) return kernelRefusal('XFRM_MSG_GETSA', answer);
    const reply = answer.replies.find((m) => m.type === XfrmMsg.newSa);
    const info = reply === undefined ? null : decodeSaInfo(reply.payload);
    return info === null ? refuse('kernel', 'XFRM_MSG_GETSA: no state in the answer') : ok(info);
  }

  #delete(key: XfrmStateKey): OffloadResult<void> {
    const fail = this.#unavailableResult();
    if (fail !== null) return fail;
    const seq = this.#channel!.nextSeq();
    const answer = this.#channel!.request(encodeSaId(XfrmMsg.delSa, key, seq), seq);
    return answer.errno === 0 ? done : kernelRefusal('XFRM_MSG_DELSA', answer);
  }
}

/** Which stable code a kernel errno means for the placement rules. */
export function codeForErrno(errno: number, text: string | null): OffloadErrorCode {
  if (text !== null && /offload/i.test(text)) return 'unsupported';
  switch (errno) {
    case 17:
      return 'exists';
    case 2:
    case 3:
      return 'not-found';
    case 38:
      return 'algorithm';
    case 93:
    case 95:
    case 97:
      return 'unsupported';
    case 12:
    case 28:
    case 105:
      return 'capacity';
    case 19:
      return 'device-gone';
    case 1:
    case 13:
      return 'unavailable';
    default:
      return 'kernel';
  }
}

function kernelRefusal(what: string, answer: NetlinkAnswer): OffloadResult<never> {
  const reason = answer.text ?? errnoName(answer.errno);
  return refuse(
    codeForErrno(answer.errno, answer.text),
    `the kernel refused ${what}: ${reason} (${errnoName(answer.errno)})`,
  );
}

function nextOf(info: XfrmStateInfo, direction: 'in' | 'out'): bigint {
  const replay = info.replay;
  if (replay === null) return 1n;
  return direction === 'out' ? replay.oseq + 1n : replay.seq + 1n;
}

function popcount(words: Uint32Array): number {
  let n = 0;
  for (let w of words) {
    for (; w !== 0; w &= w - 1) n++;
  }
  return n;
}

/** What the kernel reports of a state, as the contract's SA state. */
export function toState(info: XfrmStateInfo, direction: 'in' | 'out'): OffloadSaState {
  const drops = new Array<number>(dropReasonCount).fill(0);
  drops[DropReason.replay] = info.stats.replay;
  drops[DropReason.icvFailure] = info.stats.integrityFailed;
  drops[DropReason.outsideWindow] = info.stats.replayWindow;
  const next = nextOf(info, direction);
  return {
    packets: Number(info.current.packets),
    bytes: Number(info.current.bytes),
    drops,
    firstUsedAt: info.current.useTime === 0n ? null : Number(info.current.useTime) * 1000,
    nextSequence: next,
    replay:
      direction === 'in' && info.replay !== null
        ? { window: info.replay.window, top: next - 1n, received: popcount(info.replay.bitmap) }
        : null,
    worker: -1,
  };
}
