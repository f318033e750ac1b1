/**
 * Just enough rtnetlink for the tests to ask the kernel something whose answer depends on the socket's
 * namespace: an interface's index by name (RTM_GETLINK with IFLA_IFNAME), from linux/rtnetlink.h.
 */
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const IFLA_IFNAME = 3;
const NLMSG_HEADER_BYTES = 16;
const IFINFOMSG_BYTES = 16;

export const NETLINK_ROUTE = 0;

export function getLinkRequest(name: string, seq: number): Uint8Array {
  const text = new TextEncoder().encode(name);
  const attributeBytes = 4 + text.length + 1;
  const total = NLMSG_HEADER_BYTES + IFINFOMSG_BYTES + ((attributeBytes + 3) & ~3);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, total, true);
  view.setUint16(4, RTM_GETLINK, true);
  view.setUint16(6, NLM_F_REQUEST, true);
  view.setUint32(8, seq, true);
  const at = NLMSG_HEADER_BYTES + IFINFOMSG_BYTES;
  view.setUint16(at, attributeBytes, true);
  view.setUint16(at + 2, IFLA_IFNAME, true);
  bytes.set(text, at + 4);
  return bytes;
}

/** The answer's interface index, or the kernel's errno (ENODEV for a name it does not know there). */
export function parseLinkAnswer(bytes: Uint8Array): { index: number } | { errno: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(4, true);
  if (type === RTM_NEWLINK) return { index: view.getInt32(NLMSG_HEADER_BYTES + 4, true) };
  if (type === NLMSG_ERROR) return { errno: -view.getInt32(NLMSG_HEADER_BYTES, true) };
  throw new Error(`unexpected netlink message type ${type}`);
}
