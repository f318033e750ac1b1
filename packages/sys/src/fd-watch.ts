import { requireSysAddon, type SysAddon, SysError } from './addon.ts';
import { errnoName } from './errno.ts';

/**
 * Calls `onReadable` on Node's event loop whenever `fd` has something to read (libuv polls it, level
 * triggered: as long as data is left, the call comes again on the next loop turn). `status` is 0, or a
 * negative errno when polling the fd failed. The watch keeps the process alive until `close()`.
 */
export class FdWatch {
  readonly fd: number;
  readonly #addon: SysAddon;
  #handle: object | null;

  constructor(fd: number, onReadable: (status: number) => void) {
    this.fd = fd;
    this.#addon = requireSysAddon(`watching fd ${fd}`);
    const handle = this.#addon.watch(fd, onReadable);
    if (typeof handle === 'number') {
      throw new SysError('failed', -handle, `watching fd ${fd}: ${errnoName(handle)}`);
    }
    this.#handle = handle;
  }

  /**
   * Stops the calls while `paused` (the owner reads the fd on its own schedule meanwhile, as NAPI polls
   * a busy NIC with its interrupt off), and restarts them: a level-triggered watch calls at once if data
   * arrived in between.
   */
  setPaused(paused: boolean): void {
    if (this.#handle === null) return;
    this.#addon.pauseWatch(this.#handle, paused);
  }

  close(): void {
    if (this.#handle === null) return;
    this.#addon.unwatch(this.#handle);
    this.#handle = null;
  }
}
