import { closeSync } from 'node:fs';
import { requireSysAddon, SysError } from './addon.ts';
import { Errno, errnoName } from './errno.ts';

/** linux/if_tun.h: the driver offers one file descriptor per queue. */
export const IFF_MULTI_QUEUE = 0x0100;

/** Interface names: what the kernel accepts (IFNAMSIZ 16 with its terminator), without path or space. */
const NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The queues of an open TUN device: each fd reads and writes whole IP packets (IFF_NO_PI). */
export interface TunDevice {
  readonly name: string;
  /** One per queue, non-blocking. */
  readonly fds: readonly number[];
  /** Whether the device has several queues the kernel spreads flows over. */
  readonly multiQueue: boolean;
  /** Closes every queue; the device goes away with its last one (it is not persistent). */
  close(): void;
}

/**
 * Opens TUN device `name` with up to `queues` queues: as many as asked when the kernel offers
 * multi-queue TUN, else one. Throws a SysError that says what to do when the helper is missing, there
 * is no /dev/net/tun, or the process may not create the device.
 */
export function openTun(name: string, queues: number): TunDevice {
  if (!NAME.test(name)) {
    throw new SysError(
      'failed',
      Errno.EINVAL,
      `TUN device name '${name}': 1 to 15 letters, digits, '_', '.', '-'`,
    );
  }
  if (!Number.isInteger(queues) || queues < 1) throw new RangeError(`queues: at least 1, got ${queues}`);
  const addon = requireSysAddon(`TUN device ${name}`);
  const features = addon.tunFeatures();
  if (features < 0) throw openFailure(name, -features);
  const multiQueue = queues > 1 && (features & IFF_MULTI_QUEUE) !== 0;
  const count = multiQueue ? queues : 1;
  const fds: number[] = [];
  try {
    for (let q = 0; q < count; q++) {
      const fd = addon.openTun(name, multiQueue);
      if (fd < 0) throw openFailure(name, -fd);
      fds.push(fd);
    }
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    throw error;
  }
  let open = true;
  return {
    name,
    fds,
    multiQueue,
    close() {
      if (!open) return;
      open = false;
      for (const fd of fds) closeSync(fd);
    },
  };
}

function openFailure(name: string, errno: number): SysError {
  switch (errno) {
    case Errno.ENOENT:
    case Errno.ENODEV:
      return new SysError(
        'no-device',
        errno,
        `TUN device ${name}: there is no /dev/net/tun (load the tun module, or give the container the device)`,
      );
    case Errno.EPERM:
    case Errno.EACCES:
      return new SysError(
        'permission',
        errno,
        `TUN device ${name}: ${errnoName(errno)}: creating a TUN device needs root (CAP_NET_ADMIN)`,
      );
    case Errno.EBUSY:
      return new SysError(
        'failed',
        errno,
        `TUN device ${name}: EBUSY: the device exists and is in use, or has other queue settings`,
      );
    case Errno.EINVAL:
      return new SysError(
        'failed',
        errno,
        `TUN device ${name}: EINVAL: an interface of this name exists and is not a TUN device of these settings`,
      );
    default:
      return new SysError('failed', errno, `TUN device ${name}: ${errnoName(errno)}`);
  }
}
