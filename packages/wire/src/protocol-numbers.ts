/** IANA "Assigned Internet Protocol Numbers" that the wire formats and selectors refer to. */
export const IpProtocol = {
  hopByHop: 0,
  icmp: 1,
  ipip: 4,
  tcp: 6,
  udp: 17,
  dccp: 33,
  ipv6: 41,
  routing: 43,
  fragment: 44,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  noNextHeader: 59,
  destinationOptions: 60,
  sctp: 132,
  mobility: 135,
  udpLite: 136,
} as const;

export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];
