import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** What the native helper exports (native/sys.c). Failures come back as negative errno values. */
export interface SysAddon {
  tunFeatures(): number;
  openTun(name: string, multiQueue: boolean): number;
  openRaw(family: 4 | 6, protocol: number, headerIncluded: boolean): number;
  readBatch(
    fd: number,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
  ): number;
  writeBatch(
    fd: number,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number;
  recvBatch(
    fd: number,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
    addresses: Uint8Array,
    ports?: Uint16Array,
  ): number;
  sendBatch(
    fd: number,
    family: 4 | 6,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addresses: Uint8Array,
    count: number,
    ports?: Uint16Array,
  ): number;
  openUdp(family: 4 | 6, address: Uint8Array, port: number, bufferBytes: number): number;
  localPort(fd: number): number;
  watch(fd: number, callback: (status: number) => void): object | number;
  pauseWatch(handle: object, paused: boolean): number;
  unwatch(handle: object): void;
  openNetlink(protocol: number, timeoutMs: number, netnsPath: string | null): number;
  netlinkSend(fd: number, bytes: Uint8Array): number;
  netlinkReceive(fd: number, buffer: Uint8Array): number;
}

/** Where `npm ci` (node-gyp, through the package's install script) puts the helper. */
export const sysAddonPath: string = new URL('../build/Release/espresso_sys.node', import.meta.url).pathname;

let loaded: SysAddon | string | undefined;

/** The helper, or why it cannot be loaded (a sentence to show the operator). */
export function loadSysAddon(): SysAddon | string {
  if (loaded !== undefined) return loaded;
  if (!existsSync(sysAddonPath)) {
    loaded = `the system-call helper is not built (no ${sysAddonPath}; npm ci builds it with node-gyp, see build/native-build.log beside it)`;
    return loaded;
  }
  try {
    loaded = createRequire(import.meta.url)(sysAddonPath) as SysAddon;
  } catch (error) {
    loaded = `the system-call helper did not load: ${(error as Error).message.split('\n')[0]}`;
  }
  return loaded;
}

/** The helper; throws a SysError when it is missing. */
export function requireSysAddon(what: string): SysAddon {
  const addon = loadSysAddon();
  if (typeof addon === 'string') throw new SysError('unavailable', 0, `${what}: ${addon}`);
  return addon;
}

export type SysErrorCode = 'unavailable' | 'permission' | 'no-device' | 'unsupported' | 'failed';

/** Opening a descriptor failed: `code` says what kind of failure, `errno` the kernel's number (or 0). */
export class SysError extends Error {
  readonly code: SysErrorCode;
  readonly errno: number;
  constructor(code: SysErrorCode, errno: number, message: string) {
    super(message);
    this.name = 'SysError';
    this.code = code;
    this.errno = errno;
  }
}
