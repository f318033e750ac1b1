import { requireSysAddon, SysError } from './addon.ts';
import { Errno, errnoName } from './errno.ts';

/**
 * A non-blocking raw IP socket of `protocol` (50 for ESP, 1 or 58 for ICMP errors). With
 * `headerIncluded` the packets sent carry their own IP header (IPv4 IP_HDRINCL, IPv6 IPV6_HDRINCL);
 * IPv4 raw sockets always receive the IP header, IPv6 ones receive the payload and report the addresses
 * (`recvBatch`). Throws a SysError naming what is missing: the helper, or the permission (CAP_NET_RAW).
 */
export function openRawSocket(family: 4 | 6, protocol: number, headerIncluded: boolean): number {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
    throw new RangeError(`protocol: 0 to 255, got ${protocol}`);
  }
  const what = `raw IPv${family} socket for protocol ${protocol}`;
  const fd = requireSysAddon(what).openRaw(family, protocol, headerIncluded);
  if (fd >= 0) return fd;
  const errno = -fd;
  if (errno === Errno.EPERM || errno === Errno.EACCES) {
    throw new SysError(
      'permission',
      errno,
      `${what}: ${errnoName(errno)}: raw sockets need root (CAP_NET_RAW)`,
    );
  }
  if (errno === Errno.EAFNOSUPPORT || errno === Errno.EPROTONOSUPPORT) {
    throw new SysError('unsupported', errno, `${what}: ${errnoName(errno)}: not supported here`);
  }
  throw new SysError('failed', errno, `${what}: ${errnoName(errno)}`);
}
