import type { LifetimeLimits, SaKeys, StoredSaConfig } from '@espresso/sad';
import { hasPorts, isIcmp, type Policy, type Prefix, type Range } from '@espresso/spd';
import { parseIpAddress } from '@espresso/wire';
import type { OffloadPolicy } from '../driver.ts';
import { type OffloadResult, ok, refuse } from '../result.ts';
import type { XfrmPolicySpec, XfrmTemplateSpec } from './xfrm-policy.ts';
import type {
  XfrmAddress,
  XfrmAlgorithms,
  XfrmLifetime,
  XfrmSelectorSpec,
  XfrmStateSpec,
} from './xfrm-state.ts';
import {
  AF_INET,
  AF_INET6,
  REPLAY_ESN_MAX_BYTES,
  XFRM_INF,
  XfrmMode,
  XfrmPolicyAction,
  XfrmPolicyDir,
  XfrmStateFlag,
} from './xfrm-wire.ts';

/** The largest replay window the kernel's bitmap holds (XFRMA_REPLAY_ESN_MAX bytes of bits). */
export const XFRM_MAX_REPLAY_WINDOW = REPLAY_ESN_MAX_BYTES * 8;

const hmacNames = {
  'hmac-sha256-128': ['hmac(sha256)', 128],
  'hmac-sha384-192': ['hmac(sha384)', 192],
  'hmac-sha512-256': ['hmac(sha512)', 256],
} as const;

export function xfrmAddress(text: string): XfrmAddress | null {
  const address = parseIpAddress(text);
  if (address === null) return null;
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  if (address.version === 4) view.setUint32(0, address.words[3]! >>> 0, false);
  else for (let i = 0; i < 4; i++) view.setUint32(4 * i, address.words[i]! >>> 0, false);
  return { family: address.version === 4 ? AF_INET : AF_INET6, bytes };
}

/** The kernel's algorithm names (crypto API) for an ESP configuration, with the SA's key bytes. */
export function xfrmAlgorithms(config: StoredSaConfig, keys: SaKeys): OffloadResult<XfrmAlgorithms> {
  const enc = config.encryption;
  switch (enc.algorithm) {
    case 'aes-gcm':
      return ok({
        aead: { name: 'rfc4106(gcm(aes))', icvBits: (enc.icvBytes ?? 16) * 8, key: keys.encryptionKey },
      });
    case 'aes-gmac':
      return ok({ aead: { name: 'rfc4543(gcm(aes))', icvBits: 128, key: keys.encryptionKey } });
    case 'chacha20-poly1305':
      return ok({ aead: { name: 'rfc7539esp(chacha20,poly1305)', icvBits: 128, key: keys.encryptionKey } });
    case 'aes-cbc':
    case 'null': {
      const integrity = config.integrity?.algorithm ?? 'none';
      const auth = integrity === 'none' ? null : hmacNames[integrity];
      return ok({
        crypt: {
          name: enc.algorithm === 'aes-cbc' ? 'cbc(aes)' : 'ecb(cipher_null)',
          key: keys.encryptionKey,
        },
        auth: auth === null ? null : { name: auth[0], truncBits: auth[1], key: keys.integrityKey },
      });
    }
  }
}

function limit(value: number | undefined, none: bigint): bigint {
  return value === undefined ? none : BigInt(value);
}

export function xfrmLifetime(soft: LifetimeLimits, hard: LifetimeLimits): XfrmLifetime {
  return {
    softBytes: limit(soft.bytes, XFRM_INF),
    hardBytes: limit(hard.bytes, XFRM_INF),
    softPackets: limit(soft.packets, XFRM_INF),
    hardPackets: limit(hard.packets, XFRM_INF),
    softAddSeconds: limit(soft.addSeconds, 0n),
    hardAddSeconds: limit(hard.addSeconds, 0n),
    softUseSeconds: limit(soft.useSeconds, 0n),
    hardUseSeconds: limit(hard.useSeconds, 0n),
  };
}

export interface StateTarget {
  readonly reqid: number | null;
  /** XFRMA_IF_ID: the driver's own, or else the SA's SAD domain (both separate SAs as a VRF does). */
  readonly ifId: number;
  readonly offload: { readonly ifindex: number; readonly packet: boolean } | null;
}

/**
 * An Espresso SA as an XFRM state. What the kernel cannot express is refused with code 'unsupported'
 * rather than approximated: a fixed outer DSCP, forcing or clearing DF.
 */
export function stateSpecFor(
  config: StoredSaConfig,
  keys: SaKeys,
  target: StateTarget,
): OffloadResult<XfrmStateSpec> {
  if (config.mode === 'iptfs') return refuse('iptfs', 'IP-TFS states are not programmed into XFRM');
  if (typeof config.dscp === 'number')
    return refuse('unsupported', 'XFRM copies the inner DSCP; a fixed outer DSCP is not expressible');
  if (config.df !== undefined && config.df !== 'copy')
    return refuse('unsupported', `XFRM has no per-SA DF '${config.df}'`);
  const local = xfrmAddress(config.local);
  const remote = xfrmAddress(config.remote);
  if (local === null || remote === null) return refuse('invalid', 'bad outer address');
  const outbound = config.direction === 'out';
  // Outbound states carry the window too: the kernel refuses an ESN state whose window is 0 unless told
  // its direction (XFRMA_SA_DIR, which older kernels lack), as iproute2 refuses to send one.
  const window = config.replayWindow ?? 1024;
  if (window > XFRM_MAX_REPLAY_WINDOW) {
    return refuse(
      'replay-window',
      `a replay window of ${window} exceeds the kernel's ${XFRM_MAX_REPLAY_WINDOW}`,
    );
  }
  const algorithms = xfrmAlgorithms(config, keys);
  if (!algorithms.ok) return algorithms;
  const esn = config.esn === true;
  let selector: XfrmSelectorSpec | null = null;
  if (config.mode === 'beet' && config.beet !== undefined) {
    const innerLocal = xfrmAddress(config.beet.innerLocal);
    const innerRemote = xfrmAddress(config.beet.innerRemote);
    if (innerLocal === null || innerRemote === null) return refuse('invalid', 'bad BEET inner address');
    const full = innerLocal.family === AF_INET ? 32 : 128;
    selector = {
      family: innerLocal.family,
      saddr: outbound ? innerLocal.bytes : innerRemote.bytes,
      daddr: outbound ? innerRemote.bytes : innerLocal.bytes,
      prefixD: full,
      prefixS: full,
      proto: 0,
      dport: 0,
      dportMask: 0,
      sport: 0,
      sportMask: 0,
    };
  }
  const soft = config.lifetime?.soft ?? {};
  const hard = config.lifetime?.hard ?? {};
  return ok({
    src: outbound ? local : remote,
    dst: outbound ? remote : local,
    spi: typeof config.spi === 'number' ? config.spi : Number.parseInt(config.spi.slice(2), 16),
    reqid: target.reqid ?? 0,
    mode: XfrmMode[config.mode],
    flags: esn ? XfrmStateFlag.esn : 0,
    replayWindow: window,
    esnAttribute: esn || window > 32,
    oseq: outbound ? BigInt(config.initialSequence ?? '1') - 1n : 0n,
    seq: outbound ? 0n : BigInt(config.initialReplay?.top ?? '0'),
    lifetime: xfrmLifetime(soft, hard),
    algorithms: algorithms.value,
    encap:
      config.encap === undefined
        ? null
        : { sport: config.encap.sourcePort ?? 4500, dport: config.encap.destinationPort ?? 4500 },
    offload:
      target.offload === null
        ? null
        : { ifindex: target.offload.ifindex, inbound: !outbound, packet: target.offload.packet },
    mark:
      config.mark === undefined ? null : { value: config.mark.value, mask: config.mark.mask ?? 0xffffffff },
    ifId: target.ifId,
    outputMark:
      config.outputMark === undefined
        ? null
        : { value: config.outputMark.value, mask: config.outputMark.mask ?? null },
    tfcPad: config.tfcPadTo ?? 0,
    selector,
  });
}

/** A port (or ICMP type/code) range as value and mask: the whole range, one value, or an aligned block. */
function portMatch(range: Range, max: number): { value: number; mask: number } | null {
  if (range.from === 0 && range.to === max) return { value: 0, mask: 0 };
  const size = range.to - range.from + 1;
  if ((size & (size - 1)) !== 0 || range.from % size !== 0) return null;
  return { value: range.from, mask: 0xffff & ~(size - 1) };
}

function prefixBytes(prefix: Prefix): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  if (prefix.family === 4) view.setUint32(0, prefix.words[3] >>> 0, false);
  else for (let i = 0; i < 4; i++) view.setUint32(4 * i, prefix.words[i]! >>> 0, false);
  return bytes;
}

/**
 * An SPD policy as an XFRM policy. XFRM selectors match one port or an aligned block, not DSCP, and
 * priorities are unsigned: anything else is refused ('unsupported') rather than widened.
 */
export function policySpecFor(offered: OffloadPolicy, ifindex: number | null): OffloadResult<XfrmPolicySpec> {
  const policy: Policy = offered.policy;
  const s = policy.selector;
  if (s.dscp !== null) return refuse('unsupported', 'XFRM selectors do not match DSCP');
  if (policy.priority < 0) return refuse('unsupported', 'XFRM policy priorities are unsigned');
  const outbound = policy.direction === 'out';
  const icmp = isIcmp(s.family, s.protocol);
  const ports = hasPorts(s.protocol);
  const localMatch = icmp
    ? portMatch(s.icmpType, 255)
    : ports
      ? portMatch(s.localPorts, 0xffff)
      : { value: 0, mask: 0 };
  const remoteMatch = icmp
    ? portMatch(s.icmpCode, 255)
    : ports
      ? portMatch(s.remotePorts, 0xffff)
      : { value: 0, mask: 0 };
  if (localMatch === null || remoteMatch === null)
    return refuse('unsupported', 'XFRM selectors match a port or an aligned block of ports');
  // ICMP: the type sits in the source port field and the code in the destination port field.
  const source = icmp ? localMatch : outbound ? localMatch : remoteMatch;
  const destination = icmp ? remoteMatch : outbound ? remoteMatch : localMatch;
  const selector: XfrmSelectorSpec = {
    family: s.family === 4 ? AF_INET : AF_INET6,
    saddr: prefixBytes(outbound ? s.local : s.remote),
    daddr: prefixBytes(outbound ? s.remote : s.local),
    prefixS: (outbound ? s.local : s.remote).length,
    prefixD: (outbound ? s.remote : s.local).length,
    proto: s.protocol ?? 0,
    sport: source.value,
    sportMask: source.mask,
    dport: destination.value,
    dportMask: destination.mask,
  };
  let template: XfrmTemplateSpec | null = null;
  if (policy.action === 'protect') {
    const mode = policy.template?.mode ?? 'tunnel';
    if (mode === 'iptfs') return refuse('iptfs', 'IP-TFS templates are not programmed into XFRM here');
    const sa = offered.sa;
    let src: Uint8Array = new Uint8Array(16);
    let dst: Uint8Array = new Uint8Array(16);
    let family = selector.family;
    if (mode !== 'transport') {
      if (sa === null)
        return refuse('invalid', `policy '${policy.id}' protects in ${mode} mode without an SA`);
      const local = xfrmAddress(sa.config.local);
      const remote = xfrmAddress(sa.config.remote);
      if (local === null || remote === null) return refuse('invalid', 'bad SA address');
      const saOut = sa.config.direction === 'out';
      src = (saOut ? local : remote).bytes;
      dst = (saOut ? remote : local).bytes;
      family = local.family;
    }
    template = { family, src, dst, spi: 0, reqid: sa?.reqid ?? 0, mode: XfrmMode[mode] };
  }
  return ok({
    selector,
    dir: XfrmPolicyDir[policy.direction],
    priority: policy.priority,
    action: policy.action === 'discard' ? XfrmPolicyAction.block : XfrmPolicyAction.allow,
    template,
    mark: s.mark.mask === 0 ? null : { value: s.mark.value, mask: s.mark.mask },
    ifId: s.ifId,
    offload: ifindex === null ? null : { ifindex },
  });
}
