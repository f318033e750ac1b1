/**
 * Facts of Linux's include/uapi/linux/xfrm.h: message types, attribute types, flags and the byte
 * layouts (offsets on x86-64 and arm64, where u64 members align to 8) of the structs Espresso sends.
 */
export const XfrmMsg = {
  newSa: 0x10,
  delSa: 0x11,
  getSa: 0x12,
  newPolicy: 0x13,
  delPolicy: 0x14,
  getPolicy: 0x15,
  updPolicy: 0x19,
  updSa: 0x1a,
  newAe: 0x1e,
} as const;

export const XfrmAttr = {
  algAuth: 1,
  algCrypt: 2,
  encap: 4,
  tmpl: 5,
  srcAddr: 13,
  lastUsed: 15,
  algAead: 18,
  algAuthTrunc: 20,
  mark: 21,
  tfcPad: 22,
  replayEsnVal: 23,
  saExtraFlags: 24,
  offloadDev: 28,
  setMark: 29,
  setMarkMask: 30,
  ifId: 31,
  replayVal: 10,
} as const;

export const XfrmMode = { transport: 0, tunnel: 1, beet: 4 } as const;
export const XfrmStateFlag = { noEcn: 1, esn: 128 } as const;
export const XfrmPolicyDir = { in: 0, out: 1, fwd: 2 } as const;
export const XfrmPolicyAction = { allow: 0, block: 1 } as const;
export const XfrmOffloadFlag = { inbound: 2, packet: 4 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_ESP = 50;
export const UDP_ENCAP_ESPINUDP = 2;
/** XFRM_INF: no limit. */
export const XFRM_INF = 0xffff_ffff_ffff_ffffn;

/** struct xfrm_selector (56 bytes). */
export const Selector = {
  bytes: 56,
  daddr: 0,
  saddr: 16,
  dport: 32,
  dportMask: 34,
  sport: 36,
  sportMask: 38,
  family: 40,
  prefixlenD: 42,
  prefixlenS: 43,
  proto: 44,
  ifindex: 48,
  user: 52,
} as const;

/** struct xfrm_lifetime_cfg (64 bytes): eight u64. */
export const LifetimeCfg = {
  bytes: 64,
  softByte: 0,
  hardByte: 8,
  softPacket: 16,
  hardPacket: 24,
  softAdd: 32,
  hardAdd: 40,
  softUse: 48,
  hardUse: 56,
} as const;

/** struct xfrm_usersa_info (224 bytes). */
export const UsersaInfo = {
  bytes: 224,
  sel: 0,
  idDaddr: 56,
  idSpi: 72,
  idProto: 76,
  saddr: 80,
  lft: 96,
  curBytes: 160,
  curPackets: 168,
  curAddTime: 176,
  curUseTime: 184,
  statsReplayWindow: 192,
  statsReplay: 196,
  statsIntegrityFailed: 200,
  seq: 204,
  reqid: 208,
  family: 212,
  mode: 214,
  replayWindow: 215,
  flags: 216,
} as const;

/** struct xfrm_usersa_id (24 bytes). */
export const UsersaId = { bytes: 24, daddr: 0, spi: 16, family: 20, proto: 22 } as const;

/** struct xfrm_userpolicy_info (168 bytes). */
export const UserpolicyInfo = {
  bytes: 168,
  sel: 0,
  lft: 56,
  priority: 152,
  index: 156,
  dir: 160,
  action: 161,
  flags: 162,
  share: 163,
} as const;

/** struct xfrm_userpolicy_id (64 bytes). */
export const UserpolicyId = { bytes: 64, sel: 0, index: 56, dir: 60 } as const;

/** struct xfrm_user_tmpl (64 bytes). */
export const UserTmpl = {
  bytes: 64,
  idDaddr: 0,
  idSpi: 16,
  idProto: 20,
  family: 24,
  saddr: 28,
  reqid: 44,
  mode: 48,
  share: 49,
  optional: 50,
  aalgos: 52,
  ealgos: 56,
  calgos: 60,
} as const;

/** struct xfrm_algo / xfrm_algo_auth / xfrm_algo_aead: a 64-byte name, then key length in bits. */
export const ALG_NAME_BYTES = 64;
/** struct xfrm_encap_tmpl (24 bytes). */
export const ENCAP_TMPL_BYTES = 24;
/** struct xfrm_user_offload (8 bytes). */
export const USER_OFFLOAD_BYTES = 8;
/** struct xfrm_replay_state_esn without its bitmap (24 bytes). */
export const REPLAY_ESN_BYTES = 24;
/** struct xfrm_replay_state (12 bytes). */
export const REPLAY_STATE_BYTES = 12;
/** The kernel's replay bitmap limit: XFRMA_REPLAY_ESN_MAX bytes. */
export const REPLAY_ESN_MAX_BYTES = 4096;
