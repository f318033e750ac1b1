import { constants } from 'node:os';
import { requireSysAddon, SysError } from './addon.ts';
import { errnoName } from './errno.ts';

/** A bound UDP socket of the helper's: read and written in batches (recvBatch/sendBatch with ports). */
export interface UdpSocket {
  readonly fd: number;
  /** The port it is bound to (the one the kernel chose when 0 was asked). */
  readonly port: number;
}

/**
 * A non-blocking UDP socket bound to `address` (16 bytes: IPv6, or IPv4 in the first 4) and `port`
 * (0: any free one), with send and receive buffers of `bufferBytes` where allowed (root may exceed
 * net.core.rmem_max). `label` is the address as text, for errors. Throws a SysError: the helper is missing, the address
 * is not this host's, the port is taken.
 */
export function openUdpSocket(
  family: 4 | 6,
  address: Uint8Array,
  port: number,
  bufferBytes: number,
  label: string,
): UdpSocket {
  if (address.length < 16) throw new RangeError('address: 16 bytes (IPv4 in the first 4)');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`port: 0 to 65535, got ${port}`);
  const what = `UDP socket on ${label} port ${port}`;
  const sys = requireSysAddon(what);
  const fd = sys.openUdp(family, address, port, bufferBytes);
  if (fd < 0) {
    const errno = -fd;
    const why =
      errno === constants.errno.EADDRINUSE
        ? 'the port is in use'
        : errno === constants.errno.EADDRNOTAVAIL
          ? `${label} is not an address of this host`
          : errno === constants.errno.EACCES
            ? 'a port below 1024 needs root (CAP_NET_BIND_SERVICE)'
            : 'binding failed';
    throw new SysError('failed', errno, `${what}: ${errnoName(errno)}: ${why}`);
  }
  const bound = sys.localPort(fd);
  return { fd, port: bound < 0 ? port : bound };
}
