import { closeSync } from 'node:fs';
import { requireSysAddon, type SysAddon, SysError } from './addon.ts';
import { Errno, errnoName } from './errno.ts';

/** The names the configuration accepts for a namespace under /var/run/netns (never a path). */
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** linux/netlink.h: the highest protocol number (MAX_LINKS - 1). */
const MAX_PROTOCOL = 31;

export interface NetlinkSocketOptions {
  /** A network namespace by its `ip netns` name; the socket is made and stays there. */
  readonly netns?: string | null;
  /** How long `receive` waits for the kernel before it returns -EAGAIN; 2000 unless given. */
  readonly timeoutMs?: number;
}

/**
 * A blocking netlink datagram socket to the kernel. `send` and `receive` return bytes moved or a negative
 * errno (never throw for a failed call): the caller turns the errno into its own result code.
 */
export interface NetlinkSocket {
  readonly fd: number;
  /** sendto() the kernel: bytes sent, or -errno. */
  send(bytes: Uint8Array): number;
  /** recv() into `buffer`: bytes received, or -errno (-EAGAIN once the timeout passed). */
  receive(buffer: Uint8Array): number;
  /** Closes the socket; later calls do nothing. */
  close(): void;
}

/**
 * Opens a netlink socket of `protocol` (0 rtnetlink, 6 XFRM), inside network namespace `netns` when
 * given, as `ip -n NAME` does. Throws a SysError that says what is missing: the helper, the namespace,
 * the permission to enter it, or the kernel's support for the protocol.
 */
export function openNetlinkSocket(protocol: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > MAX_PROTOCOL) {
    throw new RangeError(`protocol: 0 to ${MAX_PROTOCOL}, got ${protocol}`);
  }
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new RangeError(`timeoutMs: 1 to 60000, got ${timeoutMs}`);
  }
  const netns = options.netns ?? null;
  if (netns !== null && (!NETNS_NAME.test(netns) || netns === '.' || netns === '..')) {
    throw new SysError(
      'failed',
      Errno.EINVAL,
      `netns '${netns}': 1 to 64 letters, digits, '_', '.', '-' (an ip netns name)`,
    );
  }
  const what = `netlink socket for protocol ${protocol}${netns === null ? '' : ` in netns ${netns}`}`;
  const addon = requireSysAddon(what);
  const fd = addon.openNetlink(protocol, timeoutMs, netns === null ? null : `/var/run/netns/${netns}`);
  if (fd < 0) throw openFailure(what, -fd, protocol, netns);
  return boundSocket(addon, fd);
}

function boundSocket(addon: SysAddon, fd: number): NetlinkSocket {
  let open = true;
  return {
    fd,
    send: (bytes) => (open ? addon.netlinkSend(fd, bytes) : -Errno.EBADF),
    receive: (buffer) => (open ? addon.netlinkReceive(fd, buffer) : -Errno.EBADF),
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

function openFailure(what: string, errno: number, protocol: number, netns: string | null): SysError {
  switch (errno) {
    case Errno.ENOENT:
      if (netns === null) break;
      return new SysError(
        'failed',
        errno,
        `${what}: ENOENT: there is no network namespace '${netns}' (ip netns add ${netns})`,
      );
    case Errno.EPERM:
    case Errno.EACCES:
      return new SysError(
        'permission',
        errno,
        `${what}: ${errnoName(errno)}: entering another network namespace needs root (CAP_SYS_ADMIN)`,
      );
    case Errno.EPROTONOSUPPORT:
    case Errno.EAFNOSUPPORT:
      return new SysError(
        'unsupported',
        errno,
        `${what}: ${errnoName(errno)}: this kernel has no netlink protocol ${protocol}`,
      );
  }
  return new SysError('failed', errno, `${what}: ${errnoName(errno)}`);
}
