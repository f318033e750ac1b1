/** Builders of well-formed test frames: IP packets inside the link layers the reader must see through. */

export function ipv4Packet(payloadLength: number, protocol = 17, fill = 0xab): Uint8Array {
  const packet = new Uint8Array(20 + payloadLength).fill(fill);
  const view = new DataView(packet.buffer);
  view.setUint8(0, 0x45);
  view.setUint8(1, 0);
  view.setUint16(2, packet.length);
  view.setUint32(4, 0x1234_4000);
  view.setUint8(8, 64);
  view.setUint8(9, protocol);
  view.setUint16(10, 0);
  packet.set([192, 0, 2, 1, 198, 51, 100, 7], 12);
  view.setUint16(10, ipv4Checksum(packet));
  return packet;
}

export function ipv6Packet(payloadLength: number, nextHeader = 17, fill = 0xcd): Uint8Array {
  const packet = new Uint8Array(40 + payloadLength).fill(fill);
  const view = new DataView(packet.buffer);
  view.setUint32(0, 0x6000_0000);
  view.setUint16(4, payloadLength);
  view.setUint8(6, nextHeader);
  view.setUint8(7, 64);
  packet.set([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1], 8);
  packet.set([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 2], 24);
  return packet;
}

function ipv4Checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function etherTypeOf(ip: Uint8Array): number {
  return ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
}

/**
 * An Ethernet II frame around `ip`, with a VLAN tag per entry of `tagTypes` (0x8100 or 0x88a8), padded
 * to the 60-byte minimum as a NIC would.
 */
export function ethernetFrame(ip: Uint8Array, tagTypes: readonly number[] = []): Uint8Array {
  const header = 14 + 4 * tagTypes.length;
  const frame = new Uint8Array(Math.max(60, header + ip.length));
  frame.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]);
  let at = 12;
  for (const [i, type] of tagTypes.entries()) {
    frame.set([type >> 8, type & 0xff, 0x00, 10 + i], at);
    at += 4;
  }
  frame.set([etherTypeOf(ip) >> 8, etherTypeOf(ip) & 0xff], at);
  frame.set(ip, header);
  return frame;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16-byte header, protocol at offset 14. */
export function sllFrame(ip: Uint8Array): Uint8Array {
  const frame = new Uint8Array(16 + ip.length);
  frame.set([0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x01, 0, 0]);
  frame.set([etherTypeOf(ip) >> 8, etherTypeOf(ip) & 0xff], 14);
  frame.set(ip, 16);
  return frame;
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20-byte header, protocol at offset 0. */
export function sll2Frame(ip: Uint8Array): Uint8Array {
  const frame = new Uint8Array(20 + ip.length);
  frame.set([etherTypeOf(ip) >> 8, etherTypeOf(ip) & 0xff, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
  frame.set([0x02, 0, 0, 0, 0, 0x01, 0, 0], 12);
  frame.set(ip, 20);
  return frame;
}
