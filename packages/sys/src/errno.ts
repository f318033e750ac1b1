import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) if (!names.has(value)) names.set(value, name);

/** EPERM for 1, and so on; `errno N` for a number the platform does not name. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return names.get(n) ?? `errno ${n}`;
}

export const Errno = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  EBADF: constants.errno.EBADF,
  EAGAIN: constants.errno.EAGAIN,
  EACCES: constants.errno.EACCES,
  EBUSY: constants.errno.EBUSY,
  ENODEV: constants.errno.ENODEV,
  EINVAL: constants.errno.EINVAL,
  EMSGSIZE: constants.errno.EMSGSIZE,
  ENOBUFS: constants.errno.ENOBUFS,
  EPROTONOSUPPORT: constants.errno.EPROTONOSUPPORT,
  EAFNOSUPPORT: constants.errno.EAFNOSUPPORT,
} as const;
