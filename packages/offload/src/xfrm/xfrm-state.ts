import { NetlinkWriter, NlFlag, parseAttributes } from './netlink.ts';
import {
  type AF_INET,
  type AF_INET6,
  ALG_NAME_BYTES,
  ENCAP_TMPL_BYTES,
  IPPROTO_ESP,
  LifetimeCfg,
  REPLAY_ESN_BYTES,
  REPLAY_STATE_BYTES,
  Selector,
  UDP_ENCAP_ESPINUDP,
  USER_OFFLOAD_BYTES,
  UsersaId,
  UsersaInfo,
  XFRM_INF,
  XfrmAttr,
  XfrmMsg,
  XfrmOffloadFlag,
} from './xfrm-wire.ts';

/** An address as XFRM carries it: family and 16 bytes (IPv4 in the first four). */
export interface XfrmAddress {
  readonly family: typeof AF_INET | typeof AF_INET6;
  readonly bytes: Uint8Array;
}

export interface XfrmLifetime {
  readonly softBytes: bigint;
  readonly hardBytes: bigint;
  readonly softPackets: bigint;
  readonly hardPackets: bigint;
  readonly softAddSeconds: bigint;
  readonly hardAddSeconds: bigint;
  readonly softUseSeconds: bigint;
  readonly hardUseSeconds: bigint;
}

/** No limits: XFRM_INF for bytes and packets, 0 (none) for times, as iproute2 fills them. */
export const unlimited: XfrmLifetime = {
  softBytes: XFRM_INF,
  hardBytes: XFRM_INF,
  softPackets: XFRM_INF,
  hardPackets: XFRM_INF,
  softAddSeconds: 0n,
  hardAddSeconds: 0n,
  softUseSeconds: 0n,
  hardUseSeconds: 0n,
};

export type XfrmAlgorithms =
  | { readonly aead: { readonly name: string; readonly icvBits: number; readonly key: Uint8Array } }
  | {
      readonly crypt: { readonly name: string; readonly key: Uint8Array };
      readonly auth: { readonly name: string; readonly truncBits: number; readonly key: Uint8Array } | null;
    };

export interface XfrmSelectorSpec {
  readonly family: number;
  readonly daddr: Uint8Array;
  readonly saddr: Uint8Array;
  readonly prefixD: number;
  readonly prefixS: number;
  readonly proto: number;
  readonly dport: number;
  readonly dportMask: number;
  readonly sport: number;
  readonly sportMask: number;
}

/** An XFRM state as the kernel takes it in XFRM_MSG_NEWSA. */
export interface XfrmStateSpec {
  readonly src: XfrmAddress;
  readonly dst: XfrmAddress;
  readonly spi: number;
  readonly reqid: number;
  readonly mode: number;
  readonly flags: number;
  /** Replay window in packets; 0 for none (outbound). */
  readonly replayWindow: number;
  /** Use XFRMA_REPLAY_ESN_VAL (ESN, or a window over 32). */
  readonly esnAttribute: boolean;
  /** Outbound: the last sequence number sent; inbound: the top of the window. */
  readonly oseq: bigint;
  readonly seq: bigint;
  readonly lifetime: XfrmLifetime;
  readonly algorithms: XfrmAlgorithms;
  readonly encap: { readonly sport: number; readonly dport: number } | null;
  readonly offload: { readonly ifindex: number; readonly inbound: boolean; readonly packet: boolean } | null;
  readonly mark: { readonly value: number; readonly mask: number } | null;
  readonly ifId: number;
  readonly outputMark: { readonly value: number; readonly mask: number | null } | null;
  readonly tfcPad: number;
  /** Zero (the kernel fills it) except for BEET, whose inner addresses live here. */
  readonly selector: XfrmSelectorSpec | null;
}

export function writeAddress(view: DataView, at: number, bytes: Uint8Array): void {
  for (let i = 0; i < 16; i++) view.setUint8(at + i, bytes[i] ?? 0);
}

function writeU64(view: DataView, at: number, value: bigint): void {
  view.setBigUint64(at, value, true);
}

export function writeLifetime(view: DataView, at: number, l: XfrmLifetime): void {
  writeU64(view, at + LifetimeCfg.softByte, l.softBytes);
  writeU64(view, at + LifetimeCfg.hardByte, l.hardBytes);
  writeU64(view, at + LifetimeCfg.softPacket, l.softPackets);
  writeU64(view, at + LifetimeCfg.hardPacket, l.hardPackets);
  writeU64(view, at + LifetimeCfg.softAdd, l.softAddSeconds);
  writeU64(view, at + LifetimeCfg.hardAdd, l.hardAddSeconds);
  writeU64(view, at + LifetimeCfg.softUse, l.softUseSeconds);
  writeU64(view, at + LifetimeCfg.hardUse, l.hardUseSeconds);
}

export function writeSelector(view: DataView, at: number, s: XfrmSelectorSpec): void {
  writeAddress(view, at + Selector.daddr, s.daddr);
  writeAddress(view, at + Selector.saddr, s.saddr);
  view.setUint16(at + Selector.dport, s.dport, false);
  view.setUint16(at + Selector.dportMask, s.dportMask, false);
  view.setUint16(at + Selector.sport, s.sport, false);
  view.setUint16(at + Selector.sportMask, s.sportMask, false);
  view.setUint16(at + Selector.family, s.family, true);
  view.setUint8(at + Selector.prefixlenD, s.prefixD);
  view.setUint8(at + Selector.prefixlenS, s.prefixS);
  view.setUint8(at + Selector.proto, s.proto);
}

function writeName(view: DataView, at: number, name: string): void {
  const text = new TextEncoder().encode(name);
  for (let i = 0; i < Math.min(text.length, ALG_NAME_BYTES - 1); i++) view.setUint8(at + i, text[i]!);
}

function writeBytes(view: DataView, at: number, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) view.setUint8(at + i, bytes[i]!);
}

/**
 * XFRM_MSG_NEWSA (or UPDSA), its attributes in the order iproute2's `ip xfrm state add` puts them:
 * algorithms, encapsulation, offload, replay state, mark, interface id, output mark, TFC padding.
 */
export function encodeNewSa(spec: XfrmStateSpec, seq: number, update = false): Uint8Array {
  const w = new NetlinkWriter(update ? XfrmMsg.updSa : XfrmMsg.newSa, NlFlag.request | NlFlag.ack, seq);
  const at = w.reserve(UsersaInfo.bytes);
  const view = w.view;
  if (spec.selector !== null) writeSelector(view, at + UsersaInfo.sel, spec.selector);
  writeAddress(view, at + UsersaInfo.idDaddr, spec.dst.bytes);
  view.setUint32(at + UsersaInfo.idSpi, spec.spi >>> 0, false);
  view.setUint8(at + UsersaInfo.idProto, IPPROTO_ESP);
  writeAddress(view, at + UsersaInfo.saddr, spec.src.bytes);
  writeLifetime(view, at + UsersaInfo.lft, spec.lifetime);
  view.setUint32(at + UsersaInfo.reqid, spec.reqid >>> 0, true);
  view.setUint16(at + UsersaInfo.family, spec.dst.family, true);
  view.setUint8(at + UsersaInfo.mode, spec.mode);
  view.setUint8(at + UsersaInfo.replayWindow, spec.esnAttribute ? 0 : spec.replayWindow);
  view.setUint8(at + UsersaInfo.flags, spec.flags);

  const algorithms = spec.algorithms;
  if ('aead' in algorithms) {
    const a = algorithms.aead;
    w.attribute(XfrmAttr.algAead, ALG_NAME_BYTES + 8 + a.key.length, (o) => {
      writeName(w.view, o, a.name);
      w.view.setUint32(o + ALG_NAME_BYTES, a.key.length * 8, true);
      w.view.setUint32(o + ALG_NAME_BYTES + 4, a.icvBits, true);
      writeBytes(w.view, o + ALG_NAME_BYTES + 8, a.key);
    });
  } else {
    const c = algorithms.crypt;
    w.attribute(XfrmAttr.algCrypt, ALG_NAME_BYTES + 4 + c.key.length, (o) => {
      writeName(w.view, o, c.name);
      w.view.setUint32(o + ALG_NAME_BYTES, c.key.length * 8, true);
      writeBytes(w.view, o + ALG_NAME_BYTES + 4, c.key);
    });
    const auth = algorithms.auth;
    if (auth !== null) {
      w.attribute(XfrmAttr.algAuthTrunc, ALG_NAME_BYTES + 8 + auth.key.length, (o) => {
        writeName(w.view, o, auth.name);
        w.view.setUint32(o + ALG_NAME_BYTES, auth.key.length * 8, true);
        w.view.setUint32(o + ALG_NAME_BYTES + 4, auth.truncBits, true);
        writeBytes(w.view, o + ALG_NAME_BYTES + 8, auth.key);
      });
    }
  }
  const encap = spec.encap;
  if (encap !== null) {
    w.attribute(XfrmAttr.encap, ENCAP_TMPL_BYTES, (o) => {
      w.view.setUint16(o, UDP_ENCAP_ESPINUDP, true);
      w.view.setUint16(o + 2, encap.sport, false);
      w.view.setUint16(o + 4, encap.dport, false);
    });
  }
  const offload = spec.offload;
  if (offload !== null) {
    w.attribute(XfrmAttr.offloadDev, USER_OFFLOAD_BYTES, (o) => {
      w.view.setInt32(o, offload.ifindex, true);
      w.view.setUint8(
        o + 4,
        (offload.inbound ? XfrmOffloadFlag.inbound : 0) | (offload.packet ? XfrmOffloadFlag.packet : 0),
      );
    });
  }
  if (spec.esnAttribute) {
    w.attribute(XfrmAttr.replayEsnVal, REPLAY_ESN_BYTES, (o) => {
      w.view.setUint32(o, Math.ceil(spec.replayWindow / 32), true);
      w.view.setUint32(o + 4, Number(spec.oseq & 0xffffffffn), true);
      w.view.setUint32(o + 8, Number(spec.seq & 0xffffffffn), true);
      w.view.setUint32(o + 12, Number(spec.oseq >> 32n), true);
      w.view.setUint32(o + 16, Number(spec.seq >> 32n), true);
      w.view.setUint32(o + 20, spec.replayWindow, true);
    });
  } else if (spec.oseq !== 0n || spec.seq !== 0n) {
    w.attribute(XfrmAttr.replayVal, REPLAY_STATE_BYTES, (o) => {
      w.view.setUint32(o, Number(spec.oseq & 0xffffffffn), true);
      w.view.setUint32(o + 4, Number(spec.seq & 0xffffffffn), true);
    });
  }
  if (spec.mark !== null) {
    const mark = spec.mark;
    w.attribute(XfrmAttr.mark, 8, (o) => {
      w.view.setUint32(o, mark.value >>> 0, true);
      w.view.setUint32(o + 4, mark.mask >>> 0, true);
    });
  }
  if (spec.ifId !== 0) w.attributeU32(XfrmAttr.ifId, spec.ifId);
  if (spec.outputMark !== null) {
    w.attributeU32(XfrmAttr.setMark, spec.outputMark.value);
    if (spec.outputMark.mask !== null) w.attributeU32(XfrmAttr.setMarkMask, spec.outputMark.mask);
  }
  if (spec.tfcPad !== 0) w.attributeU32(XfrmAttr.tfcPad, spec.tfcPad);
  return w.finish();
}

/** What names a state: destination, SPI, family (and the mark, when it has one). */
export interface XfrmStateKey {
  readonly dst: XfrmAddress;
  readonly src: XfrmAddress;
  readonly spi: number;
  readonly mark: { readonly value: number; readonly mask: number } | null;
}

/** XFRM_MSG_DELSA or XFRM_MSG_GETSA: struct xfrm_usersa_id, then the source address, as iproute2 sends. */
export function encodeSaId(
  type: typeof XfrmMsg.delSa | typeof XfrmMsg.getSa,
  key: XfrmStateKey,
  seq: number,
): Uint8Array {
  const w = new NetlinkWriter(
    type,
    type === XfrmMsg.delSa ? NlFlag.request | NlFlag.ack : NlFlag.request,
    seq,
  );
  const at = w.reserve(UsersaId.bytes);
  writeAddress(w.view, at + UsersaId.daddr, key.dst.bytes);
  w.view.setUint32(at + UsersaId.spi, key.spi >>> 0, false);
  w.view.setUint16(at + UsersaId.family, key.dst.family, true);
  w.view.setUint8(at + UsersaId.proto, IPPROTO_ESP);
  w.attribute(XfrmAttr.srcAddr, 16, (o) => writeAddress(w.view, o, key.src.bytes));
  const mark = key.mark;
  if (mark !== null) {
    w.attribute(XfrmAttr.mark, 8, (o) => {
      w.view.setUint32(o, mark.value >>> 0, true);
      w.view.setUint32(o + 4, mark.mask >>> 0, true);
    });
  }
  return w.finish();
}

/** A state as the kernel reports it (XFRM_MSG_NEWSA in answer to GETSA): what readSa needs. */
export interface XfrmStateInfo {
  readonly family: number;
  readonly spi: number;
  readonly reqid: number;
  readonly mode: number;
  readonly flags: number;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly lifetime: XfrmLifetime;
  readonly current: {
    readonly bytes: bigint;
    readonly packets: bigint;
    readonly addTime: bigint;
    readonly useTime: bigint;
  };
  readonly stats: {
    readonly replayWindow: number;
    readonly replay: number;
    readonly integrityFailed: number;
  };
  readonly replay: {
    readonly oseq: bigint;
    readonly seq: bigint;
    readonly window: number;
    readonly bitmap: Uint32Array;
  } | null;
  readonly algorithmNames: readonly string[];
  readonly offload: { readonly ifindex: number; readonly flags: number } | null;
  readonly ifId: number;
  readonly mark: { readonly value: number; readonly mask: number } | null;
}

function readName(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? Math.min(bytes.length, ALG_NAME_BYTES) : end));
}

/** Decodes struct xfrm_usersa_info and the attributes after it; null when it is too short. */
export function decodeSaInfo(payload: Uint8Array): XfrmStateInfo | null {
  if (payload.length < UsersaInfo.bytes) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const u64 = (at: number) => view.getBigUint64(at, true);
  const lft = UsersaInfo.lft;
  const attributes = parseAttributes(payload, UsersaInfo.bytes);
  let replay: XfrmStateInfo['replay'] = null;
  const esn = attributes.get(XfrmAttr.replayEsnVal);
  const plain = attributes.get(XfrmAttr.replayVal);
  if (esn !== undefined && esn.length >= REPLAY_ESN_BYTES) {
    const v = new DataView(esn.buffer, esn.byteOffset, esn.byteLength);
    const words = Math.min(v.getUint32(0, true), (esn.length - REPLAY_ESN_BYTES) >>> 2);
    const bitmap = new Uint32Array(words);
    for (let i = 0; i < words; i++) bitmap[i] = v.getUint32(REPLAY_ESN_BYTES + 4 * i, true);
    replay = {
      oseq: (BigInt(v.getUint32(12, true)) << 32n) | BigInt(v.getUint32(4, true)),
      seq: (BigInt(v.getUint32(16, true)) << 32n) | BigInt(v.getUint32(8, true)),
      window: v.getUint32(20, true),
      bitmap,
    };
  } else if (plain !== undefined && plain.length >= REPLAY_STATE_BYTES) {
    const v = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
    replay = {
      oseq: BigInt(v.getUint32(0, true)),
      seq: BigInt(v.getUint32(4, true)),
      window: view.getUint8(UsersaInfo.replayWindow),
      bitmap: Uint32Array.of(v.getUint32(8, true)),
    };
  }
  const names: string[] = [];
  for (const type of [XfrmAttr.algAead, XfrmAttr.algCrypt, XfrmAttr.algAuthTrunc, XfrmAttr.algAuth]) {
    const alg = attributes.get(type);
    if (alg !== undefined) names.push(readName(alg));
  }
  const offloadRaw = attributes.get(XfrmAttr.offloadDev);
  const markRaw = attributes.get(XfrmAttr.mark);
  const ifIdRaw = attributes.get(XfrmAttr.ifId);
  const u32Of = (raw: Uint8Array, at: number) =>
    new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(at, true);
  return {
    family: view.getUint16(UsersaInfo.family, true),
    spi: view.getUint32(UsersaInfo.idSpi, false),
    reqid: view.getUint32(UsersaInfo.reqid, true),
    mode: view.getUint8(UsersaInfo.mode),
    flags: view.getUint8(UsersaInfo.flags),
    dst: payload.slice(UsersaInfo.idDaddr, UsersaInfo.idDaddr + 16),
    src: payload.slice(UsersaInfo.saddr, UsersaInfo.saddr + 16),
    lifetime: {
      softBytes: u64(lft + LifetimeCfg.softByte),
      hardBytes: u64(lft + LifetimeCfg.hardByte),
      softPackets: u64(lft + LifetimeCfg.softPacket),
      hardPackets: u64(lft + LifetimeCfg.hardPacket),
      softAddSeconds: u64(lft + LifetimeCfg.softAdd),
      hardAddSeconds: u64(lft + LifetimeCfg.hardAdd),
      softUseSeconds: u64(lft + LifetimeCfg.softUse),
      hardUseSeconds: u64(lft + LifetimeCfg.hardUse),
    },
    current: {
      bytes: u64(UsersaInfo.curBytes),
      packets: u64(UsersaInfo.curPackets),
      addTime: u64(UsersaInfo.curAddTime),
      useTime: u64(UsersaInfo.curUseTime),
    },
    stats: {
      replayWindow: view.getUint32(UsersaInfo.statsReplayWindow, true),
      replay: view.getUint32(UsersaInfo.statsReplay, true),
      integrityFailed: view.getUint32(UsersaInfo.statsIntegrityFailed, true),
    },
    replay,
    algorithmNames: names,
    offload:
      offloadRaw === undefined || offloadRaw.length < 5
        ? null
        : { ifindex: u32Of(offloadRaw, 0), flags: offloadRaw[4]! },
    ifId: ifIdRaw === undefined || ifIdRaw.length < 4 ? 0 : u32Of(ifIdRaw, 0),
    mark:
      markRaw === undefined || markRaw.length < 8
        ? null
        : { value: u32Of(markRaw, 0), mask: u32Of(markRaw, 4) },
  };
}
