import { NetlinkWriter, NlFlag, parseAttributes } from './netlink.ts';
import {
  unlimited,
  writeAddress,
  writeLifetime,
  writeSelector,
  type XfrmSelectorSpec,
} from './xfrm-state.ts';
import {
  IPPROTO_ESP,
  USER_OFFLOAD_BYTES,
  UserpolicyId,
  UserpolicyInfo,
  UserTmpl,
  XfrmAttr,
  XfrmMsg,
  XfrmOffloadFlag,
} from './xfrm-wire.ts';

export interface XfrmTemplateSpec {
  readonly family: number;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly spi: number;
  readonly reqid: number;
  readonly mode: number;
}

/** An XFRM policy as the kernel takes it in XFRM_MSG_NEWPOLICY. */
export interface XfrmPolicySpec {
  readonly selector: XfrmSelectorSpec;
  readonly dir: number;
  readonly priority: number;
  readonly action: number;
  readonly template: XfrmTemplateSpec | null;
  readonly mark: { readonly value: number; readonly mask: number } | null;
  readonly ifId: number;
  readonly offload: { readonly ifindex: number } | null;
}

/**
 * XFRM_MSG_NEWPOLICY (or UPDPOLICY), attributes in iproute2's order (template, mark, interface id),
 * then the packet-offload device.
 */
export function encodeNewPolicy(spec: XfrmPolicySpec, seq: number, update = false): Uint8Array {
  const w = new NetlinkWriter(
    update ? XfrmMsg.updPolicy : XfrmMsg.newPolicy,
    NlFlag.request | NlFlag.ack,
    seq,
  );
  const at = w.reserve(UserpolicyInfo.bytes);
  writeSelector(w.view, at + UserpolicyInfo.sel, spec.selector);
  writeLifetime(w.view, at + UserpolicyInfo.lft, unlimited);
  w.view.setUint32(at + UserpolicyInfo.priority, spec.priority >>> 0, true);
  w.view.setUint8(at + UserpolicyInfo.dir, spec.dir);
  w.view.setUint8(at + UserpolicyInfo.action, spec.action);
  const t = spec.template;
  if (t !== null) {
    w.attribute(XfrmAttr.tmpl, UserTmpl.bytes, (o) => {
      const v = w.view;
      writeAddress(v, o + UserTmpl.idDaddr, t.dst);
      v.setUint32(o + UserTmpl.idSpi, t.spi >>> 0, false);
      v.setUint8(o + UserTmpl.idProto, IPPROTO_ESP);
      v.setUint16(o + UserTmpl.family, t.family, true);
      writeAddress(v, o + UserTmpl.saddr, t.src);
      v.setUint32(o + UserTmpl.reqid, t.reqid >>> 0, true);
      v.setUint8(o + UserTmpl.mode, t.mode);
      v.setUint32(o + UserTmpl.aalgos, 0xffffffff, true);
      v.setUint32(o + UserTmpl.ealgos, 0xffffffff, true);
      v.setUint32(o + UserTmpl.calgos, 0xffffffff, true);
    });
  }
  appendMarkAndIfId(w, spec);
  const offload = spec.offload;
  if (offload !== null) {
    w.attribute(XfrmAttr.offloadDev, USER_OFFLOAD_BYTES, (o) => {
      w.view.setInt32(o, offload.ifindex, true);
      w.view.setUint8(o + 4, XfrmOffloadFlag.packet);
    });
  }
  return w.finish();
}

/** XFRM_MSG_DELPOLICY by selector and direction, as `ip xfrm policy delete` sends it. */
export function encodeDelPolicy(spec: XfrmPolicySpec, seq: number): Uint8Array {
  const w = new NetlinkWriter(XfrmMsg.delPolicy, NlFlag.request | NlFlag.ack, seq);
  const at = w.reserve(UserpolicyId.bytes);
  writeSelector(w.view, at + UserpolicyId.sel, spec.selector);
  w.view.setUint8(at + UserpolicyId.dir, spec.dir);
  appendMarkAndIfId(w, spec);
  return w.finish();
}

function appendMarkAndIfId(w: NetlinkWriter, spec: XfrmPolicySpec): void {
  const mark = spec.mark;
  if (mark !== null) {
    w.attribute(XfrmAttr.mark, 8, (o) => {
      w.view.setUint32(o, mark.value >>> 0, true);
      w.view.setUint32(o + 4, mark.mask >>> 0, true);
    });
  }
  if (spec.ifId !== 0) w.attributeU32(XfrmAttr.ifId, spec.ifId);
}

/** A policy as the kernel reports it: the fields a test compares. */
export interface XfrmPolicyInfo {
  readonly family: number;
  readonly daddr: Uint8Array;
  readonly saddr: Uint8Array;
  readonly prefixD: number;
  readonly prefixS: number;
  readonly proto: number;
  readonly dport: number;
  readonly sport: number;
  readonly priority: number;
  readonly dir: number;
  readonly action: number;
  readonly templates: number;
  readonly templateReqid: number | null;
  readonly mark: { readonly value: number; readonly mask: number } | null;
  readonly ifId: number;
}

export function decodePolicyInfo(payload: Uint8Array): XfrmPolicyInfo | null {
  if (payload.length < UserpolicyInfo.bytes) return null;
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const attributes = parseAttributes(payload, UserpolicyInfo.bytes);
  const tmpl = attributes.get(XfrmAttr.tmpl);
  const mark = attributes.get(XfrmAttr.mark);
  const ifId = attributes.get(XfrmAttr.ifId);
  const u32 = (raw: Uint8Array, at: number) =>
    new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(at, true);
  return {
    family: v.getUint16(40, true),
    daddr: payload.slice(0, 16),
    saddr: payload.slice(16, 32),
    prefixD: v.getUint8(42),
    prefixS: v.getUint8(43),
    proto: v.getUint8(44),
    dport: v.getUint16(32, false),
    sport: v.getUint16(36, false),
    priority: v.getUint32(UserpolicyInfo.priority, true),
    dir: v.getUint8(UserpolicyInfo.dir),
    action: v.getUint8(UserpolicyInfo.action),
    templates: tmpl === undefined ? 0 : Math.floor(tmpl.length / UserTmpl.bytes),
    templateReqid: tmpl === undefined || tmpl.length < UserTmpl.bytes ? null : u32(tmpl, UserTmpl.reqid),
    mark: mark === undefined || mark.length < 8 ? null : { value: u32(mark, 0), mask: u32(mark, 4) },
    ifId: ifId === undefined || ifId.length < 4 ? 0 : u32(ifId, 0),
  };
}
