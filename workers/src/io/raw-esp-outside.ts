import { closeSync } from 'node:fs';
import { FdWatch, openRawSocket, requireSysAddon, type SysAddon } from '@espresso/sys';
import { type IpAddress, IpProtocol, parseIpAddress } from '@espresso/wire';

/**
 * ESP straight over IP (protocol 50), as the kernel sends it without NAT, on a raw socket (root or
 * CAP_NET_RAW). Packets go out whole, with the outer header ESP wrote (IP_HDRINCL / IPV6_HDRINCL);
 * IPv4 packets come in with their header, IPv6 ones without it (io writes it back from the addresses
 * the socket reports).
 */
export class RawEspOutside {
  readonly family: 4 | 6;
  readonly address: string;
  readonly local: IpAddress;
  readonly fd: number;
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  sendErrors = 0;
  private readonly sys: SysAddon;
  private watchHandle: FdWatch | null = null;

  constructor(address: string) {
    const local = parseIpAddress(address);
    if (local === null) throw new RangeError(`address: '${address}' is not an IP address`);
    this.sys = requireSysAddon('raw ESP');
    this.local = local;
    this.family = local.version;
    this.address = address;
    this.fd = openRawSocket(local.version, IpProtocol.esp, true);
  }

  /** Reads up to `count` packets; `addresses` gets 32 bytes per packet (source, destination). */
  receive(
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
    addresses: Uint8Array,
  ): number {
    const n = this.sys.recvBatch(this.fd, bytes, offsets, lengths, count, capacity, addresses);
    return n < 0 ? 0 : n;
  }

  /**
   * Sends `count` whole packets to the addresses (16 bytes each); returns how many went. A packet the
   * kernel refuses is skipped (counted in sendErrors) and the rest still go.
   */
  send(
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addresses: Uint8Array,
    count: number,
  ): number {
    let done = 0;
    let sent = 0;
    while (done < count) {
      const n = this.sys.sendBatch(
        this.fd,
        this.family,
        bytes,
        offsets.subarray(done),
        lengths.subarray(done),
        addresses.subarray(done * 16),
        count - done,
      );
      if (n > 0) {
        for (let i = done; i < done + n; i++) this.txBytes += lengths[i]!;
        done += n;
        sent += n;
        continue;
      }
      // The packet at `done` was refused (or the socket is full): skip it.
      this.sendErrors++;
      done++;
    }
    this.txPackets += sent;
    return sent;
  }

  watch(onReadable: () => void): void {
    this.watchHandle = new FdWatch(this.fd, onReadable);
  }

  /** Readiness calls off while io polls the socket, on again when it waits. */
  setWatching(on: boolean): void {
    this.watchHandle?.setPaused(!on);
  }

  close(): void {
    this.watchHandle?.close();
    this.watchHandle = null;
    closeSync(this.fd);
  }
}
