/**
 * Why a packet was dropped: one enum shared by the datapath counters, Prometheus metrics, pcap drop
 * traces and the API. A superset of Linux's /proc/net/xfrm_stat; `linux` names the xfrm_stat counter a
 * reason folds into, so the totals can be compared with the kernel's.
 *
 * Codes are dense small integers so a worker can count them in an array indexed by code. Append
 * new reasons at the end: codes are part of the shared-memory layout and of saved statistics.
 */
export const DropReason = {
  // Wire format (packets that cannot be parsed)
  truncated: 0,
  badVersion: 1,
  badHeaderLength: 2,
  badTotalLength: 3,
  badChecksum: 4,
  extensionHeaderOverrun: 5,
  unsupportedProtocol: 6,
  fragment: 7,
  // Inbound ESP
  noState: 8,
  runt: 9,
  icvFailure: 10,
  replay: 11,
  outsideWindow: 12,
  badPadding: 13,
  badInnerHeader: 14,
  badNextHeader: 15,
  dummyPacket: 16,
  stateExpired: 17,
  stateMismatch: 18,
  natKeepalive: 19,
  ikeMarker: 20,
  // Outbound ESP
  sequenceOverflow: 21,
  noOutboundState: 22,
  tooBig: 23,
  noBufferSpace: 24,
  // Policy
  policyBlock: 25,
  noPolicy: 26,
  policyMismatch: 27,
  acquirePending: 28,
  // Datapath and engines
  engineError: 29,
  badDescriptor: 30,
  queueFull: 31,
  // IP-TFS
  iptfsBadBlockOffset: 32,
  iptfsRunt: 33,
  iptfsTooNewSequence: 34,
  iptfsLost: 35,
  iptfsMalformed: 36,
  iptfsQueueFull: 37,
  ttlExceeded: 38,
  unknownSpiDomain: 39,
  ecnCeNotEct: 40,
  iptfsUnknownSubtype: 41,
  iptfsLate: 42,
  workerLost: 43,
  // Gateway io (outside fragments, the way out)
  fragmentTimeout: 44,
  fragmentOverlap: 45,
  fragmentLimit: 46,
  noOutsidePath: 47,
} as const;

export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export interface DropReasonInfo {
  readonly code: DropReason;
  /** snake_case name used in metrics labels, JSON statistics and pcap drop comments. */
  readonly name: string;
  /** The Linux /proc/net/xfrm_stat counter this reason is part of, where one exists. */
  readonly linux: string | null;
  readonly description: string;
}

const info: Record<keyof typeof DropReason, [linux: string | null, description: string]> = {
  truncated: ['XfrmInHdrError', 'packet shorter than its headers'],
  badVersion: ['XfrmInHdrError', 'IP version is neither 4 nor 6'],
  badHeaderLength: ['XfrmInHdrError', 'header length field out of range'],
  badTotalLength: ['XfrmInHdrError', 'total or payload length disagrees with the packet'],
  badChecksum: ['XfrmInHdrError', 'header or UDP checksum does not verify'],
  extensionHeaderOverrun: ['XfrmInHdrError', 'IPv6 extension header chain runs past the end'],
  unsupportedProtocol: ['XfrmInStateProtoError', 'next protocol is not one this path handles'],
  fragment: ['XfrmInHdrError', 'fragment that this path does not reassemble'],
  noState: ['XfrmInNoStates', 'no inbound SA for SPI, destination and protocol'],
  runt: ['XfrmInHdrError', 'ESP packet shorter than header, IV and ICV'],
  icvFailure: ['XfrmInStateProtoError', 'integrity check value does not verify'],
  replay: ['XfrmInStateSeqError', 'sequence number already received'],
  outsideWindow: ['XfrmInStateSeqError', 'sequence number below the replay window'],
  badPadding: ['XfrmInStateProtoError', 'padding bytes or pad length invalid'],
  badInnerHeader: ['XfrmInStateModeError', 'decrypted inner packet is malformed'],
  badNextHeader: ['XfrmInStateModeError', 'next header does not fit the SA mode'],
  dummyPacket: [null, 'dummy packet (next header 59), dropped by design'],
  stateExpired: ['XfrmInStateExpired', 'SA reached a hard lifetime'],
  stateMismatch: ['XfrmInStateMismatch', 'packet does not match the SA selectors or addresses'],
  natKeepalive: [null, 'NAT-keepalive (RFC 3948), consumed by design'],
  ikeMarker: [null, 'non-ESP marker: IKE traffic, passed to the IKE sink'],
  sequenceOverflow: ['XfrmOutStateSeqError', 'outbound sequence number would cycle'],
  noOutboundState: ['XfrmOutNoStates', 'no outbound SA for the policy'],
  tooBig: ['XfrmOutError', 'packet exceeds the MTU and may not be fragmented'],
  noBufferSpace: ['XfrmOutError', 'no headroom or tailroom for the encapsulation'],
  policyBlock: ['XfrmInPolBlock', 'policy action is discard'],
  noPolicy: ['XfrmInNoPols', 'no policy matched and the default is drop'],
  policyMismatch: ['XfrmInTmplMismatch', 'decrypted packet does not match the inbound policy'],
  acquirePending: ['XfrmAcquireError', 'no SA yet: ACQUIRE raised, packet not held'],
  engineError: ['XfrmInError', 'crypto engine reported an error'],
  badDescriptor: ['XfrmInBufferError', 'descriptor offset or length outside the buffer'],
  queueFull: ['XfrmOutNoQueueSpace', 'ring or queue full'],
  iptfsBadBlockOffset: ['XfrmInIptfsError', 'IP-TFS block offset points past the payload'],
  iptfsRunt: ['XfrmInIptfsError', 'IP-TFS payload shorter than its header'],
  iptfsTooNewSequence: ['XfrmInIptfsError', 'IP-TFS sequence too far ahead of the reorder window'],
  iptfsLost: ['XfrmInIptfsError', 'IP-TFS inner packet lost with a missing outer packet'],
  iptfsMalformed: ['XfrmInIptfsError', 'IP-TFS inner packet length inconsistent'],
  iptfsQueueFull: ['XfrmOutNoQueueSpace', 'IP-TFS send queue full'],
  ttlExceeded: ['XfrmFwdHdrError', 'TTL or hop limit reached zero while forwarding'],
  unknownSpiDomain: ['XfrmInNoStates', "SPI known, but not in the packet's SAD domain"],
  ecnCeNotEct: ['XfrmInStateModeError', 'outer header marked CE over a Not-ECT inner packet (RFC 6040 §4.2)'],
  iptfsUnknownSubtype: ['XfrmInIptfsError', 'AGGFRAG payload sub-type is neither 0 nor 1'],
  iptfsLate: ['XfrmInIptfsError', 'IP-TFS outer packet arrived after the reorder window gave up its place'],
  workerLost: [null, 'queued to, or held by, a datapath thread that died; its slot was reclaimed'],
  fragmentTimeout: [
    'XfrmInHdrError',
    'outer fragments whose datagram was not complete before the reassembly timeout',
  ],
  fragmentOverlap: [
    'XfrmInHdrError',
    'outer fragment overlapping another of its datagram (RFC 5722): datagram discarded',
  ],
  fragmentLimit: [
    'XfrmInBufferError',
    'outer reassembly limit: too many datagrams or fragments, or larger than a slot',
  ],
  noOutsidePath: ['XfrmOutError', 'no way out: not ESP in UDP and no raw socket, or the socket refused it'],
};

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every reason, indexed by code. */
export const dropReasons: readonly DropReasonInfo[] = Object.entries(DropReason)
  .map(([key, code]) => {
    const [linux, description] = info[key as keyof typeof DropReason];
    return { code, name: snake(key), linux, description };
  })
  .sort((a, b) => a.code - b.code);

export const dropReasonCount = dropReasons.length;

export function dropReasonName(code: number): string {
  return dropReasons[code]?.name ?? `unknown_${code}`;
}
