export {
  loadSysAddon,
  requireSysAddon,
  type SysAddon,
  SysError,
  type SysErrorCode,
  sysAddonPath,
} from './addon.ts';
export { Errno, errnoName } from './errno.ts';
export { FdWatch } from './fd-watch.ts';
export { type NetlinkSocket, type NetlinkSocketOptions, openNetlinkSocket } from './netlink.ts';
export { openRawSocket } from './raw-socket.ts';
export { IFF_MULTI_QUEUE, openTun, type TunDevice } from './tun.ts';
export { openUdpSocket, type UdpSocket } from './udp-socket.ts';
