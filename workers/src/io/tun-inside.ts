import { FdWatch, openTun, requireSysAddon, type SysAddon, type TunDevice } from '@espresso/sys';
import type { InsidePort } from './inside-port.ts';

/**
 * A TUN device as the inside of a gateway: one queue per worker where the kernel offers multi-queue
 * TUN (the kernel then spreads flows over them, as a NIC's RSS would), else one. Reads and writes go
 * through the system-call helper in batches, straight into the pool's bytes.
 */
export class TunInside implements InsidePort {
  readonly name: string;
  readonly queues: number;
  readonly device: TunDevice;
  private readonly sys: SysAddon;
  private readonly watches: FdWatch[] = [];

  /** Opens (creates) TUN device `name`; throws a SysError saying what is missing (root, /dev/net/tun). */
  constructor(name: string, queues: number) {
    this.sys = requireSysAddon(`TUN device ${name}`);
    this.device = openTun(name, queues);
    this.name = name;
    this.queues = this.device.fds.length;
  }

  read(
    queue: number,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
  ): number {
    const n = this.sys.readBatch(this.device.fds[queue]!, bytes, offsets, lengths, count, capacity);
    return n < 0 ? 0 : n;
  }

  write(queue: number, bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = this.sys.writeBatch(this.device.fds[queue % this.queues]!, bytes, offsets, lengths, count);
    return n < 0 ? 0 : n;
  }

  watch(onReadable: (queue: number) => void): void {
    this.device.fds.forEach((fd, q) => {
      this.watches.push(new FdWatch(fd, () => onReadable(q)));
    });
  }

  setWatching(on: boolean): void {
    for (const w of this.watches) w.setPaused(!on);
  }

  close(): void {
    for (const w of this.watches) w.close();
    this.watches.length = 0;
    this.device.close();
  }
}
